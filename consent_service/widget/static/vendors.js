/* kakor: the vendors' own consent calls (docs/widget.md, "Service templates").
   Appended to widget.js only for a site whose services declare calls. On every
   decision, and once for the consent restored from the cookie, each service whose
   allowed state changed gets its grant or its deny calls: a queue ("push") is made
   if missing, so Matomo reads it when it loads; a function ("call") not defined yet
   gets the vendor's own queue stub when the template names one (Clarity replays
   clarity.q), and is skipped otherwise: Meta's snippet would not load beside a stub. */
(function (calls) {
  var k = window.kakor;
  if (!k || k.vendorCalls) return;
  k.vendorCalls = calls.length;
  var state = {};
  function run(list) {
    list.forEach(function (c) {
      if (c.push) (window[c.push] = window[c.push] || []).push(c.args);
      else {
        var f = window[c.call];
        if (typeof f != "function" && c.queue) {
          f = window[c.call] = function () {
            (f[c.queue] = f[c.queue] || []).push(arguments);
          };
        }
        if (typeof f == "function") f.apply(window, c.args);
      }
    });
  }
  function apply(detail) {
    if (!detail.decided) return;
    calls.forEach(function (v) {
      var on = detail.choices[v.category] === true;
      if (state[v.service] === on) return;
      state[v.service] = on;
      run(on ? v.grant : v.deny);
    });
  }
  k.on("change", apply);
  apply(k.get());
})(__KAKOR_VENDOR_CALLS__);
