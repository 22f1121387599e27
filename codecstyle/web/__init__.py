"""``codecstyle serve``: a local web page and HTTP API to paint a film, follow its render and
download it. Jobs live on disk (``jobs``), render one at a time in processes of their own
(``runner``, ``job_process``) through the same segment machinery as ``codecstyle process``, and
outlive the page and the server. Needs the ``web`` extra (FastAPI, uvicorn)."""
