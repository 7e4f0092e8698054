// Shows only the settings of the chosen channel kind (all stay in the form without JavaScript).
(function () {
  var FIELDS = {
    email: ["members", "addresses"],
    webhook: ["url"],
    slack: ["url"],
    pagerduty: ["routing_key", "url"],
  };
  var ALL = ["url", "routing_key", "members", "addresses"];

  function start() {
    var form = document.getElementById("channel-form");
    if (!form || !form.elements.kind) return;
    var kind = form.elements.kind;
    function update() {
      var shown = FIELDS[kind.value] || ALL;
      ALL.forEach(function (name) {
        var input = form.elements[name];
        var wrapper = input && input.closest(".field");
        if (wrapper) wrapper.hidden = shown.indexOf(name) === -1;
      });
    }
    kind.addEventListener("change", update);
    update();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
