// Stand-in for matomo.js: the cookies the tracker sets, and _paq replayed and recorded.
(function () {
  function push(args) {
    standInLog(["_paq"].concat(args));
    if (args[0] === "rememberConsentGiven") standInCookie("mtm_consent", 946080000);
    if (args[0] === "forgetConsentGiven") {
      document.cookie = "mtm_consent=; Path=/; Max-Age=0";
      standInCookie("mtm_consent_removed", 946080000);
    }
  }
  var queued = Array.isArray(window._paq) ? window._paq : [];
  window._paq = { push: push };
  queued.forEach(push);
  standInCookie("_pk_id.1.a1b2", 34186669);
  standInCookie("_pk_ses.1.a1b2", 1800);
  standInCookie("_pk_ref.1.a1b2", 15778463);
})();
