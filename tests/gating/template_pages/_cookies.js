// Shared by the stand-ins (prepended to each): set a first-party cookie, log a call.
function standInCookie(name, seconds) {
  document.cookie = name + "=1; Path=/; Max-Age=" + seconds + "; SameSite=Lax";
}
function standInLog(entry) {
  (window.vendorLog = window.vendorLog || []).push(entry);
}
