// Body parts next to the face analysis: with "Show body parts" checked, a photo or video
// picked on the Upload tab is also posted to /api/v1/analyze/body(/video). The face result
// never waits for it, and its errors stay in the body card.
import { postForm } from './api.js';
import { hideBody, renderBodyImage, renderBodyVideo, showBodyError, startBody, stopBodyBusy } from './body-view.js';
import { hook } from './state.js';
import { t } from './i18n.js';

const KINDS = {
  image: { url: '/api/v1/analyze/body', field: 'image', busy: t('Finding body parts…'), render: renderBodyImage },
  video: {
    url: '/api/v1/analyze/body/video',
    field: 'video',
    busy: t('Following body parts through the video… this can take a while.'),
    render: renderBodyVideo,
  },
};

const toggle = document.getElementById('body-toggle');
let last = null; // { kind, file }: analysed when the box is ticked after the upload
let inFlight = null;

function cancel() {
  inFlight?.abort();
  inFlight = null;
}

async function run({ kind, file }) {
  const { url, field, busy, render } = KINDS[kind];
  cancel();
  const controller = new AbortController();
  inFlight = controller;
  startBody(busy);
  const form = new FormData();
  form.append(field, file);
  let result = null;
  try {
    result = await postForm(url, form, controller.signal);
  } catch (error) {
    if (error.name !== 'AbortError') showBodyError(error.message);
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      stopBodyBusy();
    }
  }
  if (!result || controller.signal.aborted) return;
  hook.lastBodyResult = result;
  render(result);
}

// kind: 'image' | 'video'. Called for every new upload; with the box unticked the old body
// result is removed, so it never stands next to another photo's face result.
export function analyseBody(kind, file) {
  last = { kind, file };
  if (toggle.checked) run(last);
  else {
    cancel();
    hideBody();
  }
}

export function setupBody() {
  toggle.addEventListener('change', () => {
    if (!toggle.checked) {
      cancel();
      hideBody();
    } else if (last) {
      run(last);
    }
  });
}
