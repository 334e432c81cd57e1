// A stand-in for Matomo, served by the demo itself: it sets the two cookies
// the demo site declares for statistics (_pk_id, _pk_ses) and counts page
// views in window.demoStats, so tests can see exactly when it ran.
(function () {
  "use strict";
  var id = Math.random().toString(16).slice(2, 18);
  var now = Math.floor(Date.now() / 1000);
  if (document.cookie.indexOf("_pk_id=") < 0) {
    document.cookie = "_pk_id=" + id + "." + now + "; Path=/; Max-Age=" + 13 * 30 * 86400 + "; SameSite=Lax";
  }
  document.cookie = "_pk_ses=1; Path=/; Max-Age=1800; SameSite=Lax";
  var events = ["pageview"];
  window.demoStats = {
    events: events,
    track: function (name) {
      events.push(name);
    },
  };
})();
