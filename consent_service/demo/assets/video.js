// What an embedded player does: it sets its own cookie as soon as it loads.
// The demo serves it from its own origin, so no third party is ever asked.
document.cookie = "VISITOR_INFO1_LIVE=demo; Path=/; Max-Age=" + 180 * 86400 + "; SameSite=Lax";
document.documentElement.dataset.played = "loaded";
