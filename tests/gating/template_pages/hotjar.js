// Stand-in for Hotjar's tag: the cookies carry the site id in their names.
standInCookie("_hjSessionUser_3141592", 31536000);
standInCookie("_hjSession_3141592", 1800);
