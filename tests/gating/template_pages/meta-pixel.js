// Stand-in for fbevents.js: fbq, recorded, and the pixel's cookies.
window.fbq = function () {
  standInLog(["fbq"].concat(Array.prototype.slice.call(arguments)));
};
standInCookie("_fbp", 7776000);
standInCookie("_fbc", 7776000);
