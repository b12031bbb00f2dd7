// Dashboard charts (uPlot): cost and tokens per time bucket, one series per group.
(function () {
  "use strict";
  var holder = document.getElementById("chart-data");
  if (!holder || !window.uPlot) return;
  var data = JSON.parse(holder.dataset.chart || "{}");
  var palette = ["#5b4be0", "#1f9d63", "#d64545", "#2f6fde", "#b7791f", "#c04fd8", "#0f9fb5", "#7a8699", "#9c6b30"];
  var plots = [];

  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function money(v) {
    if (v == null) return "";
    if (v === 0) return "$0";
    if (Math.abs(v) >= 1) return "$" + v.toFixed(2);
    return "$" + v.toPrecision(2);
  }
  function count(v) {
    if (v == null) return "";
    if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (v >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return String(Math.round(v));
  }
  function draw(id, columns, fmt) {
    var target = document.getElementById(id);
    if (!target) return;
    target.textContent = "";
    if (!data.x || !data.x.length || !data.names.length) {
      var empty = document.createElement("p");
      empty.className = "muted small";
      empty.textContent = "No calls in this period.";
      target.appendChild(empty);
      return;
    }
    var grid = { stroke: css("--border"), width: 1 };
    var axis = { stroke: css("--muted"), grid: grid, ticks: grid };
    var series = [{}];
    data.names.forEach(function (name, i) {
      var color = palette[i % palette.length];
      series.push({ label: name, stroke: color, fill: color + "22", width: 2, points: { show: data.x.length < 40 },
                    value: function (u, v) { return fmt(v); } });
    });
    var opts = {
      width: Math.max(280, target.clientWidth), height: 260,
      series: series,
      scales: { x: { time: true } },
      axes: [Object.assign({}, axis), Object.assign({ values: function (u, vals) { return vals.map(fmt); }, size: 64 }, axis)],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } }
    };
    plots.push({ id: id, plot: new uPlot(opts, [data.x].concat(columns), target) });
  }
  function drawAll() {
    plots.forEach(function (p) { p.plot.destroy(); });
    plots = [];
    draw("chart-cost", data.cost || [], money);
    draw("chart-tokens", data.tokens || [], count);
  }
  drawAll();
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(drawAll, 150); });
  document.addEventListener("theme-changed", drawAll);
})();
