(function () {
  var box = document.getElementById("live-progress");
  if (!box || !window.fetch || !document.querySelector) return;
  var url = box.getAttribute("data-progress-url");
  function yuan(fen) {
    var sign = fen < 0 ? "-" : "";
    fen = Math.abs(fen);
    var whole = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var cents = String(fen % 100);
    return sign + "\u00a5" + whole + "." + (cents.length < 2 ? "0" + cents : cents);
  }
  function put(name, text) {
    var el = box.querySelector("[data-field=" + name + "]");
    if (el && el.textContent !== text) el.textContent = text;
  }
  function show(p) {
    put("raised", yuan(p.raised_fen));
    put("goal", yuan(p.goal_fen));
    put("count", String(p.donation_count).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
    put("percent", p.percent + "%");
    var fill = box.querySelector("rect.fill");
    if (fill) fill.setAttribute("width", String(Math.max(0, Math.min(100, p.percent))));
  }
  function poll() {
    if (document.visibilityState !== "visible") return;
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) { if (p && typeof p.raised_fen === "number") show(p); })
      .catch(function () {});
  }
  setInterval(poll, 10000);
  document.addEventListener("visibilitychange", poll);
})();
