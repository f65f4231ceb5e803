// Live updates for the mcp-reconciler console: when the server says the state changed,
// re-fetch this page's fragment and swap it in. Same-origin only; no inline code.
"use strict";
(function () {
  const main = document.getElementById("content");
  const live = document.getElementById("live");
  if (!main || !main.dataset.fragment || !window.EventSource) return;
  let fetching = false;
  let again = false;

  async function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const response = await fetch(main.dataset.fragment, {
        credentials: "same-origin",
        headers: { accept: "text/html" },
      });
      if (response.ok) {
        main.innerHTML = await response.text();  // server-rendered, every value escaped
        main.dataset.updated = String(Date.now());
      }
    } finally {
      fetching = false;
      if (again) { again = false; refresh(); }
    }
  }

  const source = new EventSource(main.dataset.stream || "/ui/stream");
  source.addEventListener("open", function () { live.classList.add("on"); });
  source.addEventListener("error", function () { live.classList.remove("on"); });
  source.addEventListener("change", refresh);
  document.addEventListener("click", function (event) {
    const code = event.target.closest && event.target.closest("code.copy");
    if (code && navigator.clipboard) navigator.clipboard.writeText(code.textContent);
  });
})();
