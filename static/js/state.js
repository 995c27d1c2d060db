// Page state mirrored on window.painscope so end-to-end tests can observe it
// without scraping the DOM. Modules update this one object; nothing reads it back.
export const hook = {
  lastLiveResult: null,
  liveResultCount: 0,
  liveSocketUrl: null, // wss://... on an https:// page
  lastUploadResult: null,
  spoken: [],
};

window.painscope = hook;
