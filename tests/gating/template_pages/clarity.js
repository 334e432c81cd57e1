// Stand-in for Clarity's tag: replays the clarity.q stub, records later calls.
(function () {
  var queued = (window.clarity && window.clarity.q) || [];
  window.clarity = function () {
    standInLog(["clarity"].concat(Array.prototype.slice.call(arguments)));
  };
  for (var i = 0; i < queued.length; i++) window.clarity.apply(window, queued[i]);
  standInCookie("_clck", 31536000);
  standInCookie("_clsk", 86400);
})();
