"""The cookie scanner: opens a site in headless Chromium before any choice, after "Accept all" and
after "Reject all", and tells which cookies and storage keys were set, by which script or
response, and which of them the registry does not declare or that came without consent.

| module | owns |
| --- | --- |
| ``cdp`` | Chromium started with its DevTools protocol on a pipe, and the calls and events on it |
| ``crawl`` | the three passes over the pages, each in a fresh profile: what the browser held and who set it |
| ``report`` | what the registry declares for the site, and the findings (undeclared, before consent, after refusal) |

Chromium is driven through its DevTools protocol directly (no webdriver): the scanner needs the
protocol's events anyway (response headers, page bindings), and the service needs no further
package for it."""
