// runio dashboard: live run pages, ticking durations, confirmation dialogs, auto-submitting filters.
// Every page works without this script; it only makes them nicer.
(function () {
  "use strict";

  function formatDuration(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 120) return seconds.toFixed(1) + " s";
    if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  // Durations of things still running tick, measured on the server's clock.
  function tick() {
    document.querySelectorAll(".dur[data-start]").forEach(function (el) {
      if (!el.dataset.loadedAt) el.dataset.loadedAt = String(Date.now());
      var serverNow = parseFloat(el.dataset.now) + (Date.now() - parseFloat(el.dataset.loadedAt)) / 1000;
      el.textContent = formatDuration(serverNow - parseFloat(el.dataset.start));
    });
  }

  function openIds(root) {
    var ids = new Set();
    root.querySelectorAll("details[open][data-id]").forEach(function (d) { ids.add(d.dataset.id); });
    return ids;
  }

  function wireDialogs(root) {
    root.querySelectorAll("a[data-dialog]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var dialog = document.getElementById(link.dataset.dialog);
        if (!dialog || typeof dialog.showModal !== "function") return; // the confirmation page
        event.preventDefault();
        dialog.showModal();
      });
    });
  }

  // A run page (and the newest page of runs) polls its live fragment and swaps it in, keeping
  // what was expanded.
  function live(container) {
    var url = container.dataset.liveUrl;
    var every = parseInt(container.dataset.pollMs, 10) || 1000;
    var last = container.innerHTML;
    function poll() {
      if (document.querySelector("dialog[open]")) { setTimeout(poll, every); return; }
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== last && !document.querySelector("dialog[open]")) {
            var open = openIds(container);
            last = html;
            container.innerHTML = html;
            container.querySelectorAll("details[data-id]").forEach(function (d) {
              if (open.has(d.dataset.id)) d.open = true;
            });
            wireDialogs(container);
            tick();
          }
        })
        .catch(function () { /* the server restarts: try again later */ })
        .then(function () { setTimeout(poll, every); });
    }
    setTimeout(poll, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireDialogs(document);
    document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
      input.addEventListener("change", function () { input.form.submit(); });
    });
    document.querySelectorAll("[data-live-url]").forEach(live);
    tick();
    setInterval(tick, 1000);
  });
})();
