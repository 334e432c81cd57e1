// Stand-in for siteanalyze_*.js.
standInCookie("nmstat", 86400000);
standInCookie("siteimproveses", 1800);
