// The session's idle end: a warning a few minutes before it, "stay signed in" without
// leaving the page, and a plain notice once the session has ended. The server gives the
// seconds left (data-left) rather than a clock time, so a wrong clock here cannot matter.
(function () {
  "use strict";
  var note = document.getElementById("session-end");
  var box = document.getElementById("session-warning");
  if (!note || !box) { return; }
  var live = box.querySelector("[data-session-live]");
  var over = box.querySelector("[data-session-over]");
  var form = box.querySelector("form");
  var warn = Number(note.dataset.warn) * 1000;
  var ends = Date.now() + Number(note.dataset.left) * 1000;
  var timer = null;

  function check() {
    clearTimeout(timer);
    var left = ends - Date.now();
    if (left <= 0) {
      live.hidden = true;
      over.hidden = false;
      box.hidden = false;
    } else if (left <= warn) {
      box.hidden = false;
      timer = setTimeout(check, left);
    } else {
      box.hidden = true;
      timer = setTimeout(check, left - warn);
    }
  }

  function retime(data) {
    var old = box.dataset.ends;
    [note, live.querySelector("p")].forEach(function (element) {
      element.textContent = element.textContent.replace(old, data.ends);
    });
    box.dataset.ends = data.ends;
    ends = Date.now() + data.left * 1000;
    check();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: {"Accept": "application/json"},
      body: new URLSearchParams(new FormData(form))
    }).then(function (response) {
      if (response.status === 401) { ends = 0; check(); return null; }
      return response.ok ? response.json() : null;
    }).then(function (data) { if (data) { retime(data); } })
      .catch(function () { /* offline: the warning stays as it is */ });
  });
  check();
}());
