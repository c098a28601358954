// The Mini App's sign-in: Telegram puts the signed initData in the page's address
// (#tgWebAppData=...); it goes to our server, which checks it against the bot token.
// Then it asks whether the session's cookie came back: a browser that keeps no cookie in
// Telegram Web's frame (another site's) is told to use the sign-in link instead.
(function () {
  "use strict";
  var title = document.getElementById("title");
  var status = document.getElementById("status");
  function failed(error) {
    var which = error && error.message === "no cookies" ? "data-no-cookies" : "data-failed";
    title.textContent = title.getAttribute("data-failed");
    status.textContent = status.getAttribute(which);
  }
  var hash = new URLSearchParams(window.location.hash.slice(1));
  var initData = hash.get("tgWebAppData");
  if (!initData) {
    failed();
    return;
  }
  fetch("/webapp/sign-in", {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({init_data: initData})
  }).then(function (response) {
    if (!response.ok) { throw new Error("refused"); }
    return response.json();
  }).then(function (body) {
    return fetch("/webapp/signed-in", {credentials: "same-origin"}).then(function (check) {
      if (check.status === 401) { throw new Error("no cookies"); }
      if (!check.ok) { throw new Error("refused"); }
      window.location.replace(body.next);
    });
  }).catch(failed);
}());
