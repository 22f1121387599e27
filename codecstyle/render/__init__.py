"""Long films: segments cut at keyframes, rendered by parallel workers (local processes or Ray),
resumable through a manifest beside the output, joined without re-encoding, with normalisation
statistics shared across the film.

    from codecstyle.render import render_film
    from codecstyle import ProcessOptions
    from codecstyle.options import RenderOptions
    summary = render_film("film.mp4", "painted.mp4", ProcessOptions(style="19"), RenderOptions(workers=2))
"""


def __getattr__(name):
    if name == "render_film":
        from .film import render_film
        return render_film
    raise AttributeError(f"module 'codecstyle.render' has no attribute {name!r}")


__all__ = ["render_film"]
