// codecstyle's page: submit a video, follow its render over server-sent events, play the result.
// Plain ES2020, no framework: the API it talks to is described in codecstyle/web/app.py.
'use strict';

const FINISHED = new Set(['done', 'failed', 'cancelled']);
const MAX_STREAMS = 4; // event streams open at once (browsers allow 6 connections per host)
const PREVIEW_SECONDS = 3;
const POLL_MS = 10000; // the job list is re-read this often while the tab is visible
const STAGES = {
  planning: 'Planning the segments…',
  sampling: 'Sampling the colours…',
  rendering: 'Painting frames…',
  joining: 'Joining the segments…',
  done: 'Finishing…',
};

const $ = (id) => document.getElementById(id);
const ui = {
  form: $('setup'), drop: $('drop'), videoFile: $('video-file'), chosen: $('video-chosen'),
  videoClear: $('video-clear'), serverPath: $('server-path'),
  styles: $('styles'), styleChosen: $('style-chosen'), styleImage: $('style-image'),
  ownTile: $('own-tile'), ownStyle: $('own-style'), styleImg: $('style-image-img'),
  styleName: $('style-image-name'), styleClear: $('style-image-clear'),
  strength: $('strength'), strengthOut: $('strength-out'), quality: $('quality'), qualityOut: $('quality-out'),
  maxSize: $('max-size'), preserve: $('preserve-color'), mode: $('mode'), crf: $('crf'), preset: $('preset'),
  preview: $('preview'), previewStart: $('preview-start'), render: $('render'),
  upload: $('upload'), uploadProgress: $('upload-progress'), uploadText: $('upload-text'),
  uploadCancel: $('upload-cancel'), error: $('error'),
  stage: $('stage'), player: $('player'), playerEmpty: $('player-empty'), title: $('current-title'),
  download: $('download'), progress: $('progress'), percent: $('percent'), status: $('status'),
  details: $('details'), jobs: $('jobs'), jobsEmpty: $('jobs-empty'),
};

const state = {
  jobs: new Map(), // id -> the job as the API last showed it
  streams: new Map(), // id -> EventSource
  current: null, // the job shown in the progress panel
  playing: null, // the job whose result is in the player
  styles: ['19'], // the chosen built-in styles (more than one: a blend)
  video: null, // the chosen local File
  videoSeconds: null, // its duration, when the browser can read it
  styleFile: null,
  styleURL: null,
  xhr: null, // an upload in flight
  offline: false,
};

// ---- formatting ----------------------------------------------------------------------------

function bytes(n) {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${units[i]}`;
}

/** 7 -> "7 s", 125 -> "2 min 5 s", 3725 -> "1 h 2 min": how long something took. */
function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** 75 -> "01:15", 3725 -> "1:02:05". */
function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x) => String(x).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/** A time in a film: 75 -> "01:15", 0.5 -> "00:00.5" (tenths only where there are some). */
function moment(seconds) {
  const tenths = Math.round(seconds * 10);
  return tenths % 10 ? `${clock(Math.floor(tenths / 10))}.${tenths % 10}` : clock(tenths / 10);
}

/** "12.5", "1:30", "1:02:03.5" -> seconds; null when it is neither (the server then says why). */
function parseTime(text) {
  const t = String(text).trim();
  if (/^\d+(\.\d*)?$|^\.\d+$/.test(t)) return parseFloat(t);
  const m = /^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d*)?)$/.exec(t);
  if (!m) return null;
  return (+(m[1] || 0)) * 3600 + (+m[2]) * 60 + parseFloat(m[3]);
}

/** A server message for the page: one line, not too long (the server already shows uploads by name). */
function readable(text) {
  let line = String(text ?? '').replace(/\s+/g, ' ').trim();
  if (line.startsWith('{') || line.startsWith('<')) line = 'the server sent an answer the page cannot read';
  return line.length > 400 ? `${line.slice(0, 400)}…` : line;
}

function kindOf(job) {
  if (!job.preview) return 'full film';
  const start = Number(job.options?.start);
  return Number.isFinite(start) ? `preview from ${moment(start)}` : 'preview';
}

// ---- messages ------------------------------------------------------------------------------

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

// ---- talking to the server -----------------------------------------------------------------

/** The one-line reason of a refused request: the API's 422 ``detail``, else the HTTP status. */
function refusal(status, statusText, body) {
  let detail = null;
  try { detail = JSON.parse(body).detail; } catch { /* not JSON */ }
  if (typeof detail === 'string' && detail) return readable(detail);
  if (Array.isArray(detail) && detail[0]?.msg) return readable(detail[0].msg);
  if (status === 413) return 'the file is too big for the server';
  return `the server answered ${status}${statusText ? ` ${statusText}` : ''}`;
}

async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new Error('Cannot reach the server: is codecstyle serve still running?');
  }
  const body = await response.text();
  if (!response.ok) throw new Error(refusal(response.status, response.statusText, body));
  if (!body) return null;
  try { return JSON.parse(body); } catch { throw new Error('the server sent an answer the page cannot read'); }
}

/** POST a multipart form with upload progress; resolves to the new job's id. */
function upload(form, label) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    state.xhr = xhr;
    xhr.open('POST', '/api/jobs');
    xhr.responseType = 'text';
    ui.upload.hidden = false;
    ui.uploadProgress.value = 0;
    ui.uploadText.textContent = `Uploading ${label}…`;
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.floor((100 * e.loaded) / e.total);
      ui.uploadProgress.value = pct;
      ui.uploadText.textContent = `Uploading ${label}: ${pct} % of ${bytes(e.total)}`;
    };
    xhr.upload.onload = () => {
      ui.uploadProgress.removeAttribute('value');
      ui.uploadText.textContent = 'Uploaded: the server is checking it…';
    };
    const done = () => { state.xhr = null; ui.upload.hidden = true; };
    xhr.onload = () => {
      done();
      if (xhr.status === 201 || xhr.status === 200) {
        try { resolve(JSON.parse(xhr.responseText).id); } catch { reject(new Error('the server sent an answer the page cannot read')); }
      } else {
        reject(new Error(refusal(xhr.status, xhr.statusText, xhr.responseText)));
      }
    };
    xhr.onerror = () => { done(); reject(new Error('The upload failed: the server could not be reached.')); };
    xhr.onabort = () => { done(); reject(new Error('The upload was cancelled.')); };
    xhr.send(form);
  });
}

// ---- 1: the video --------------------------------------------------------------------------

function chooseVideo(file) {
  state.video = file || null;
  state.videoSeconds = null;
  ui.drop.classList.toggle('has-file', Boolean(file));
  ui.chosen.hidden = !file;
  if (!file) { ui.videoFile.value = ''; return; }
  ui.serverPath.value = '';
  ui.chosen.querySelector('.chosen-name').textContent = file.name;
  const meta = ui.chosen.querySelector('.chosen-meta');
  meta.textContent = bytes(file.size);
  clearError();
  // The duration and size, where the browser can decode the file (it is only a hint).
  const probe = document.createElement('video');
  const url = URL.createObjectURL(file);
  probe.preload = 'metadata';
  probe.muted = true;
  probe.onloadedmetadata = () => {
    if (state.video === file && Number.isFinite(probe.duration)) {
      state.videoSeconds = probe.duration;
      const size = probe.videoWidth ? ` · ${probe.videoWidth}×${probe.videoHeight}` : '';
      meta.textContent = `${bytes(file.size)} · ${clock(probe.duration)}${size}`;
    }
    URL.revokeObjectURL(url);
  };
  probe.onerror = () => URL.revokeObjectURL(url);
  probe.src = url;
}

ui.videoFile.addEventListener('change', () => chooseVideo(ui.videoFile.files[0]));
ui.videoClear.addEventListener('click', () => chooseVideo(null));
ui.serverPath.addEventListener('input', () => {
  if (ui.serverPath.value.trim() && state.video) chooseVideo(null);
});
for (const type of ['dragenter', 'dragover']) {
  ui.drop.addEventListener(type, (e) => {
    e.preventDefault();
    ui.drop.classList.add('dragging');
  });
}
for (const type of ['dragleave', 'drop']) {
  ui.drop.addEventListener(type, () => ui.drop.classList.remove('dragging'));
}
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files?.[0];
  if (!file) return;
  try { ui.videoFile.files = e.dataTransfer.files; } catch { /* older browsers: keep the File only */ }
  chooseVideo(file);
});
// A file dropped beside the drop area must not make the browser leave the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

// ---- 2: the style --------------------------------------------------------------------------

function styleSpec() {
  if (state.styles.length === 1) return state.styles[0];
  const share = (1 / state.styles.length).toFixed(4);
  return state.styles.map((s) => `${s}:${share}`).join(',');
}

function showStyles() {
  for (const button of ui.styles.querySelectorAll('.style-thumb')) {
    button.setAttribute('aria-pressed', String(state.styles.includes(button.dataset.style)));
  }
  ui.styles.classList.toggle('muted', Boolean(state.styleFile));
  if (state.styleFile) ui.styleChosen.textContent = 'your picture';
  else if (state.styles.length === 1) ui.styleChosen.textContent = `style ${state.styles[0]}`;
  else ui.styleChosen.textContent = `blend of ${state.styles.join(' + ')}`;
}

function pickStyle(style, blend) {
  if (blend) {
    const at = state.styles.indexOf(style);
    if (at < 0) state.styles.push(style);
    else if (state.styles.length > 1) state.styles.splice(at, 1);
  } else {
    state.styles = [style];
  }
  if (state.styleFile) chooseStyleImage(null);
  showStyles();
}

async function loadStyles() {
  let list;
  try {
    list = (await api('/api/styles')).styles;
  } catch (err) {
    showError(`The styles could not be loaded: ${err.message}`);
    return;
  }
  const fragment = document.createDocumentFragment();
  for (const { style, thumbnail } of list) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'style-thumb';
    button.dataset.style = style;
    button.title = `Style ${style}`;
    const img = document.createElement('img');
    img.loading = 'lazy';
    img.decoding = 'async';
    img.width = 160;
    img.height = 90;
    img.alt = `Style ${style}`;
    img.src = thumbnail;
    const num = document.createElement('span');
    num.className = 'num';
    num.textContent = style;
    button.append(img, num);
    fragment.append(button);
  }
  for (const old of ui.styles.querySelectorAll('.style-thumb')) old.remove();
  ui.ownTile.before(fragment);
  showStyles();
}

ui.styles.addEventListener('click', (e) => {
  const button = e.target.closest('.style-thumb');
  if (button) pickStyle(button.dataset.style, e.ctrlKey || e.metaKey || e.shiftKey);
});

function chooseStyleImage(file) {
  if (state.styleURL) URL.revokeObjectURL(state.styleURL);
  state.styleFile = file || null;
  state.styleURL = file ? URL.createObjectURL(file) : null;
  ui.ownStyle.hidden = ui.styleImg.hidden = !file;
  ui.ownTile.classList.toggle('is-chosen', Boolean(file));
  ui.ownTile.querySelector('.own-label').textContent = file ? 'my picture' : '+ my picture';
  if (file) {
    ui.styleImg.src = state.styleURL;
    ui.styleName.textContent = `${file.name} (${bytes(file.size)})`;
  } else {
    ui.styleImage.value = '';
    ui.styleImg.removeAttribute('src');
  }
  showStyles();
}

ui.styleImage.addEventListener('change', () => chooseStyleImage(ui.styleImage.files[0]));
ui.styleClear.addEventListener('click', () => chooseStyleImage(null));

// ---- 3: settings ---------------------------------------------------------------------------

function showSettings() {
  ui.strengthOut.textContent = `${Math.round(ui.strength.value * 100)} %`;
  ui.qualityOut.textContent = Number(ui.quality.value).toFixed(2);
}
ui.strength.addEventListener('input', showSettings);
ui.quality.addEventListener('input', showSettings);

/** The option fields of a job, as the API names them (text, as a form sends them). */
function options(preview) {
  const o = {
    strength: ui.strength.value,
    quality: ui.quality.value,
    preserve_color: ui.preserve.checked ? 'true' : 'false',
    mode: ui.mode.value,
  };
  if (state.styleFile) o.look = ui.form.querySelector('input[name="look"]:checked')?.value || 'artistic';
  else o.style = styleSpec();
  if (ui.maxSize.value) o.max_size = ui.maxSize.value;
  if (ui.crf.value.trim()) o.crf = ui.crf.value.trim();
  if (ui.preset.value) o.preset = ui.preset.value;
  if (preview) {
    o.preview = 'true';
    o.start = ui.previewStart.value.trim() || '0';
    o.duration = String(PREVIEW_SECONDS);
  }
  return o;
}

// ---- submitting ----------------------------------------------------------------------------

function busy(on) {
  ui.render.disabled = ui.preview.disabled = on;
}

async function submit(preview) {
  if (state.xhr) return;
  clearError();
  const path = ui.serverPath.value.trim();
  if (!state.video && !path) {
    showError('Choose a video first: drop one on the box, pick a file, or type the path of a file on the server.');
    return;
  }
  if (preview) {
    const start = parseTime(ui.previewStart.value || '0');
    if (start === null) { // said before a long upload, not after it
      showError('Preview from: give seconds (12.5) or a time like 1:30 or 1:02:03.');
      return;
    }
    if (state.videoSeconds !== null && start >= state.videoSeconds) {
      showError(`The video is only ${clock(state.videoSeconds)} long: preview from an earlier time.`);
      return;
    }
  }
  const fields = options(preview);
  busy(true);
  try {
    let id;
    if (state.video || state.styleFile) {
      const form = new FormData();
      for (const [key, value] of Object.entries(fields)) form.append(key, value);
      if (state.video) form.append('video', state.video, state.video.name);
      else form.append('path', path);
      if (state.styleFile) form.append('style_image', state.styleFile, state.styleFile.name);
      id = await upload(form, state.video ? state.video.name : 'the style picture');
    } else {
      id = (await api('/api/jobs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ path, ...fields }),
      })).id;
    }
    const name = state.video ? state.video.name : path.split(/[\\/]/).pop();
    const shown = preview ? { ...fields, start: parseTime(fields.start) } : fields; // until the server's record arrives
    apply({ id, name, preview, state: 'queued', options: shown, version: -1, created: Date.now() / 1000 });
    select(id);
    follow(id);
    refreshJobs();
    if (window.matchMedia('(max-width: 959px)').matches) ui.stage.scrollIntoView({ behavior: 'smooth', block: 'start' });
  } catch (err) {
    showError(err.message);
  } finally {
    busy(false);
  }
}

ui.form.addEventListener('submit', (e) => { e.preventDefault(); submit(false); });
ui.preview.addEventListener('click', () => submit(true));
ui.previewStart.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') { e.preventDefault(); submit(true); }
});
ui.uploadCancel.addEventListener('click', () => state.xhr?.abort());

// ---- following jobs ------------------------------------------------------------------------

function follow(id) {
  if (state.streams.has(id)) return;
  if (state.streams.size >= MAX_STREAMS && id !== state.current) return; // the list poll covers it
  const source = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
  state.streams.set(id, source);
  source.addEventListener('job', (e) => {
    let job;
    try { job = JSON.parse(e.data); } catch { return; }
    if (state.offline && id === state.current) state.offline = false;
    apply(job, true);
    if (FINISHED.has(job.state)) {
      unfollow(id);
      refreshJobs();
    }
  });
  source.addEventListener('deleted', () => { unfollow(id); forget(id); });
  source.onopen = () => {
    if (state.offline && id === state.current) {
      state.offline = false;
      const job = state.jobs.get(id);
      if (job) showCurrent(job);
    }
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) { // refused for good (the job is gone)
      unfollow(id);
      refreshJobs();
    } else if (id === state.current) {
      state.offline = true;
      const job = state.jobs.get(id);
      if (job) showCurrent(job);
    }
  };
}

function unfollow(id) {
  state.streams.get(id)?.close();
  state.streams.delete(id);
}

/** Take a job's new record: the list row, and the panel and player when it is the current one. */
function apply(job, fromStream = false) {
  const known = state.jobs.get(job.id);
  // A list read can be older than what a stream already said (versions only grow, except across a
  // server restart: the stream is then believed).
  if (!fromStream && known && known.version > job.version && !FINISHED.has(job.state)) return;
  state.jobs.set(job.id, job);
  showRow(job);
  if (job.id !== state.current) return;
  showCurrent(job);
  const arrived = !known || known.state !== job.state;
  if (job.state === 'done' && state.playing !== job.id) play(job, arrived && known && job.preview);
  if (job.state === 'failed' && arrived && known) showError(`The render failed: ${readable(job.error) || 'no reason given'}`);
}

function forget(id) {
  state.jobs.delete(id);
  unfollow(id);
  document.querySelector(`.job[data-id="${CSS.escape(id)}"]`)?.remove();
  ui.jobsEmpty.hidden = state.jobs.size > 0;
  if (state.playing === id) stopPlayer();
  if (state.current === id) {
    state.current = null;
    showCurrent(null);
  }
}

async function refreshJobs() {
  let list;
  try {
    list = (await api('/api/jobs')).jobs;
  } catch (err) {
    if (!state.offline) showError(err.message);
    state.offline = true;
    return;
  }
  if (state.offline) {
    state.offline = false;
    if (ui.error.textContent.startsWith('Cannot reach the server')) clearError();
  }
  const ids = new Set(list.map((job) => job.id));
  for (const id of [...state.jobs.keys()]) if (!ids.has(id) && state.jobs.get(id).version >= 0) forget(id);
  for (const job of list) apply(job);
  // Keep the rows newest first.
  for (const job of list) {
    const row = document.querySelector(`.job[data-id="${CSS.escape(job.id)}"]`);
    if (row) ui.jobs.append(row);
  }
  for (const job of list) if (!FINISHED.has(job.state)) follow(job.id);
  if (state.current) {
    const current = state.jobs.get(state.current);
    if (current) showCurrent(current); // the queue position may have moved
  }
  return list;
}

// ---- the jobs list -------------------------------------------------------------------------

function showRow(job) {
  let row = document.querySelector(`.job[data-id="${CSS.escape(job.id)}"]`);
  if (!row) {
    row = document.createElement('li');
    row.className = 'job';
    row.dataset.id = job.id;
    row.innerHTML = `
      <button type="button" class="job-open"><span class="job-name"></span><span class="kind"></span></button>
      <span class="job-actions">
        <button type="button" class="quiet job-play">Play</button>
        <button type="button" class="quiet danger job-remove"></button>
      </span>
      <span class="job-state"><progress max="100"></progress><span></span></span>`;
    ui.jobs.prepend(row);
  }
  row.className = `job is-${job.state}${job.id === state.current ? ' is-current' : ''}`;
  row.querySelector('.job-name').textContent = job.name;
  row.querySelector('.job-name').title = job.name;
  const kind = row.querySelector('.kind');
  kind.textContent = job.preview ? 'preview' : 'full';
  kind.classList.toggle('full', !job.preview);
  row.querySelector('.job-play').hidden = job.state !== 'done';
  const remove = row.querySelector('.job-remove');
  remove.textContent = FINISHED.has(job.state) ? 'Remove' : 'Cancel';
  const bar = row.querySelector('.job-state progress');
  const pct = percentOf(job);
  bar.hidden = job.state !== 'running';
  if (pct === null) bar.removeAttribute('value'); else bar.value = pct;
  const line = row.querySelector('.job-state span');
  line.textContent = rowLine(job, pct);
  line.title = line.textContent;
  ui.jobsEmpty.hidden = true;
}

function rowLine(job, pct) {
  const start = Number(job.options?.start);
  const from = job.preview && Number.isFinite(start) ? `from ${moment(start)} · ` : '';
  switch (job.state) {
    case 'queued': return `${from}waiting`;
    case 'running': return `${from}${pct === null ? (job.stage || 'starting') : `${pct} %`}`;
    case 'done': return `${from}done${job.summary?.seconds ? ` in ${span(job.summary.seconds)}` : ''}`;
    case 'failed': return `${from}failed: ${readable(job.error)}`;
    default: return `${from}cancelled`;
  }
}

ui.jobs.addEventListener('click', async (e) => {
  const row = e.target.closest('.job');
  if (!row) return;
  const job = state.jobs.get(row.dataset.id);
  if (!job) return;
  if (e.target.closest('.job-remove')) {
    const running = !FINISHED.has(job.state);
    if (job.state === 'running' && !window.confirm(`Stop rendering ${job.name}? Its finished segments are removed too.`)) return;
    try {
      await api(`/api/jobs/${encodeURIComponent(job.id)}`, { method: 'DELETE' });
      forget(job.id);
      if (running) refreshJobs();
    } catch (err) {
      showError(`Could not ${running ? 'cancel' : 'remove'} ${job.name}: ${err.message}`);
    }
    return;
  }
  clearError();
  select(job.id);
  if (job.state === 'done') play(job, e.target.closest('.job-play') !== null);
  else if (job.state === 'failed') showError(`The render failed: ${readable(job.error) || 'no reason given'}`);
  else if (!FINISHED.has(job.state)) follow(job.id);
});

// ---- the panel and the player --------------------------------------------------------------

function select(id) {
  state.current = id;
  if (state.playing && state.playing !== id) stopPlayer(); // the player shows the current job only
  for (const row of ui.jobs.querySelectorAll('.job')) row.classList.toggle('is-current', row.dataset.id === id);
  const job = state.jobs.get(id);
  if (job) showCurrent(job);
}

/** Percent done (0-100), or null while it cannot be known (queued, planning, sampling). */
function percentOf(job) {
  if (job.state === 'done') return 100;
  const total = job.frames_total || 0;
  if (!total || (job.state === 'queued' || (job.state === 'running' && !job.frames_done && job.stage !== 'rendering'))) {
    return FINISHED.has(job.state) ? 0 : null;
  }
  return Math.min(99, Math.floor((100 * (job.frames_done || 0)) / total)); // 100 only once it is done
}

function statusLine(job) {
  switch (job.state) {
    case 'queued': {
      if (job.message) return readable(job.message);
      const ahead = [...state.jobs.values()].filter((j) => !FINISHED.has(j.state) && j.id !== job.id
        && (j.state === 'running' || j.created < job.created)).length;
      return ahead ? `Waiting: ${ahead} job${ahead > 1 ? 's' : ''} ahead in the queue.` : 'Waiting to start…';
    }
    case 'running': {
      if (!job.message) return STAGES[job.stage] || 'Starting the render…';
      const note = readable(job.message); // "sampling 4 frames for --norm global", "resuming: ..."
      return `${note[0].toUpperCase()}${note.slice(1)}${/[.…:!?]$/.test(note) ? '' : '…'}`;
    }
    case 'done': {
      const s = job.summary;
      if (!s) return 'Done.';
      const rate = s.fps ? ` (${Number(s.fps).toFixed(1)} fps)` : '';
      return `Done: ${s.frames} frames painted in ${span(s.seconds)}${rate}.`;
    }
    case 'failed': return `Failed: ${readable(job.error) || 'no reason given'}`;
    case 'cancelled': return 'Cancelled.';
    default: return '';
  }
}

function detailsLine(job) {
  const parts = [];
  const seg = job.segments || {};
  if (job.state === 'done' && job.summary) {
    const s = job.summary;
    const look = job.style_image ? 'your picture' : `style ${s.options?.style ?? job.options?.style ?? '19'}`;
    parts.push(look.replace(/:[0-9.]+/g, '').replace(/,/g, ' + '));
    if (s.width) parts.push(`${s.width}×${s.height}`);
    const kept = (s.streams_copied || []).join(', ');
    if (kept) parts.push(`${kept} copied from the source`);
    if (seg.total > 1) parts.push(`${seg.total} segments${seg.reused ? `, ${seg.reused} reused` : ''}`);
    return parts.join(' · ');
  }
  if (job.state !== 'running') return '';
  if (job.frames_total) parts.push(`${job.frames_done || 0} / ${job.frames_total} frames`);
  if (job.fps) parts.push(`${Number(job.fps).toFixed(1)} fps`);
  if (job.eta_seconds !== null && job.eta_seconds !== undefined && job.stage === 'rendering') parts.push(`ETA ${clock(job.eta_seconds)}`);
  if (seg.total) parts.push(`segments ${seg.done || 0}/${seg.total}${seg.reused ? ` (${seg.reused} reused)` : ''}`);
  return parts.join(' · ');
}

function showCurrent(job) {
  ui.stage.classList.remove('is-queued', 'is-running', 'is-done', 'is-failed', 'is-cancelled');
  if (!job) {
    ui.title.textContent = 'Nothing rendering';
    ui.playerEmpty.textContent = 'Your painted film will play here.';
    ui.progress.value = 0;
    ui.progress.dataset.percent = '0';
    ui.percent.textContent = '0 %';
    ui.status.textContent = 'Choose a video and a style, then preview or render.';
    ui.details.textContent = '';
    return;
  }
  ui.stage.classList.add(`is-${job.state}`);
  ui.playerEmpty.textContent = job.state === 'failed' ? 'No result: the render failed.'
    : job.state === 'cancelled' ? 'Cancelled.' : 'Painting… the result will play here.';
  const kind = document.createElement('span');
  kind.className = `kind${job.preview ? '' : ' full'}`;
  kind.textContent = kindOf(job);
  ui.title.replaceChildren(document.createTextNode(job.name), kind);
  const pct = percentOf(job);
  if (pct === null) ui.progress.removeAttribute('value'); else ui.progress.value = pct;
  ui.progress.dataset.percent = String(pct ?? 0);
  ui.percent.textContent = pct === null || job.state === 'failed' || job.state === 'cancelled' ? '' : `${pct} %`;
  ui.status.textContent = statusLine(job);
  const details = detailsLine(job);
  ui.details.textContent = state.offline && !FINISHED.has(job.state)
    ? `Lost the connection to the server: retrying…${details ? ` · ${details}` : ''}` : details;
}

function play(job, autoplay) {
  state.playing = job.id;
  ui.player.loop = Boolean(job.preview);
  ui.player.src = job.result;
  ui.playerEmpty.hidden = true;
  ui.download.href = `${job.result}?download=1`;
  ui.download.hidden = false;
  ui.download.textContent = job.preview ? 'Download preview' : 'Download';
  if (autoplay) ui.player.play().catch(() => { /* the browser wants a click first */ });
}

function stopPlayer() {
  state.playing = null;
  ui.player.pause();
  ui.player.removeAttribute('src');
  ui.player.load();
  ui.playerEmpty.hidden = false;
  ui.download.hidden = true;
}

ui.player.addEventListener('error', () => {
  if (ui.player.getAttribute('src')) showError('The result could not be played here: try Download.');
});

// ---- start ---------------------------------------------------------------------------------

async function start() {
  showSettings();
  showCurrent(null);
  loadStyles();
  const list = await refreshJobs();
  if (!list || state.current) return;
  // Reopened page: follow the newest unfinished job again, else show the newest result.
  const pick = list.find((job) => !FINISHED.has(job.state)) || list.find((job) => job.state === 'done');
  if (pick) {
    select(pick.id);
    apply(pick, true);
  }
}

setInterval(() => { if (!document.hidden) refreshJobs(); }, POLL_MS);
document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshJobs(); });
start();
