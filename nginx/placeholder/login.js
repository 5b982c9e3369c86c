// The placeholder's login: POST /api/auth/login sets the session cookie, then back to where nginx sent
// the user from (?next=), which must be a path on this site, never another site.
"use strict";
(function () {
  var form = document.getElementById("login");
  var status = document.getElementById("status");
  var next = new URLSearchParams(window.location.search).get("next") || "/";
  if (next.charAt(0) !== "/" || next.charAt(1) === "/" || next.charAt(1) === "\\") {
    next = "/";
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    status.textContent = "Logging in…";
    fetch("/api/auth/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({name: form.elements.name.value, password: form.elements.password.value})
    }).then(function (response) {
      if (response.ok) {
        window.location.assign(next);
        return;
      }
      return response.json().then(function (body) {
        status.textContent = body.message || ("login failed (" + response.status + ")");
      });
    }).catch(function () {
      status.textContent = "The API does not answer.";
    });
  });
})();
