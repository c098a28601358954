// The Mini App's sign-in: Telegram puts the signed initData in the page's address
// (#tgWebAppData=...); it goes to our server, which checks it against the bot token.
(function () {
  "use strict";
  var status = document.getElementById("status");
  function failed() {
    status.textContent = status.getAttribute("data-failed");
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
    window.location.replace(body.next);
  }).catch(failed);
}());
