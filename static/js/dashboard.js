// Live updates of the executive dashboard: the server pushes the score and
// alerts panels' HTML over a WebSocket on this same origin; this script only
// swaps them in. The HTML is rendered (and escaped) by Django's templates.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var delay = 1000;

  function setStatus(state, text) {
    if (!status) { return; }
    status.setAttribute("data-state", state);
    status.textContent = "Live updates: " + text;
  }

  function apply(panels) {
    Object.keys(panels).forEach(function (name) {
      var target = document.getElementById("panel-" + name);
      if (target) { target.innerHTML = panels[name]; }
    });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket = new WebSocket(scheme + "//" + window.location.host + "/ws/dashboard/");
    socket.onopen = function () { delay = 1000; setStatus("open", "on"); };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.panels) {
        apply(message.panels);
        setStatus("open", "on (updated " + new Date().toLocaleTimeString() + ")");
      }
    };
    socket.onclose = function (event) {
      // 4403: not allowed; retrying would not change that.
      if (event.code === 4403) { setStatus("refused", "not allowed"); return; }
      setStatus("closed", "reconnecting");
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  if ("WebSocket" in window) { connect(); } else { setStatus("unsupported", "unavailable"); }
})();
