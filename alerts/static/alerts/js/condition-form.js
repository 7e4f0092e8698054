// "Preview" reloads the form page with the definition in the query string; without this
// the browser's GET submission would also put the CSRF token into the URL.
(function () {
  function start() {
    var form = document.getElementById("condition-form");
    var button = document.getElementById("preview");
    if (!form || !button) return;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (key !== "csrfmiddlewaretoken") params.append(key, value);
      });
      params.set("preview", "1");
      window.location.assign(form.dataset.previewUrl + "?" + params.toString());
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
