// ketasim app: draw Plotly figures sent by the server (no other client logic).
(function () {
  "use strict";
  function draw(msg) {
    var el = document.getElementById(msg.id);
    if (!el || !window.Plotly) { return; }
    var fig = msg.figure;
    window.Plotly.react(el, fig.data, fig.layout, fig.config).then(function () {
      el.dataset.renders = String((Number(el.dataset.renders) || 0) + 1);
      el.dataset.yaxisType = fig.layout.yaxis.type;
      el.dataset.traces = String(fig.data.length);
      el.dataset.bands = String(fig.data.filter(function (t) { return t.fill === "tonexty"; }).length);
    });
  }
  function register() {
    window.Shiny.addCustomMessageHandler("ketasim-plot", draw);
  }
  if (window.Shiny && window.Shiny.addCustomMessageHandler) { register(); }
  else { document.addEventListener("DOMContentLoaded", register); }
})();
