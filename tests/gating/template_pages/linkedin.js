// Stand-in for LinkedIn's insight.min.js.
standInCookie("li_fat_id", 2592000);
standInCookie("li_sugr", 7776000);
standInCookie("_guid", 7776000);
