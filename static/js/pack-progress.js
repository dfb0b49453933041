// Poll a pack's build status and update the progress bar, without reloading.
// Loaded as a file (the CSP allows no inline script); it reads its URL from
// the data-status-url attribute of #pack-progress.
(function () {
  "use strict";
  var box = document.getElementById("pack-progress");
  if (!box || box.dataset.finished === "true") {
    return;
  }
  var url = box.dataset.statusUrl;
  var bar = document.getElementById("pack-progress-bar");
  var status = document.getElementById("pack-status");
  var step = document.getElementById("pack-step");
  var link = document.getElementById("pack-download");
  var delay = 1000;

  function show(state) {
    bar.value = state.progress;
    bar.textContent = state.progress + "%";
    status.textContent = state.status_label;
    step.textContent = state.step;
    if (state.download_url) {
      link.href = state.download_url;
      link.hidden = false;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        show(state);
        if (!state.finished) {
          window.setTimeout(poll, delay);
        } else {
          box.dataset.finished = "true";
        }
      })
      .catch(function () {
        // Back off on errors, up to half a minute between tries.
        delay = Math.min(delay * 2, 30000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
