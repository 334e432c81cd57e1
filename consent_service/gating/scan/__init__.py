"""The leak scanner: prove a site sets nothing and calls no one before consent (C1, C2, C14).

``consent-service scan URL`` loads the page in headless Chromium, each phase in a fresh
browser context (an empty profile): **before** any choice, after **reject** all and after
**accept** all, clicking the banner's own buttons. It records every cookie, every
storage write (``localStorage``, ``sessionStorage``, ``document.cookie``, IndexedDB) and
every request to another origin, then compares them with what the site declares.

``consent-service scan --crawl`` does the same for every page of a site
(:mod:`~consent_service.gating.scan.crawl`), checks each page's withdrawal control, and
matches the cookies seen against the Open Cookie Database
(:mod:`consent_service.gating.cookiedb`) to propose the site file's declaration
(:mod:`~consent_service.gating.scan.declaration_check`).
Playwright is an optional extra (``pip install 'consent-service[scan]'``) and drives
Debian's Chromium; nothing is downloaded.
"""
