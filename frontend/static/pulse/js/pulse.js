/* Small progressive enhancements shared by every page; everything works without them.
 *
 *  <button data-copy="#element-id">Copy</button>   copies the text of the element
 *  <button data-copy-text="literal">Copy</button>   copies the literal
 *  <form data-confirm="Delete this app?">            asks before submitting
 */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain http (e.g. a LAN address) has no async clipboard: fall back to a selection.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
    } finally {
      document.body.removeChild(area);
    }
    return Promise.resolve();
  }

  function flash(button, label) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = label;
    window.setTimeout(function () { button.textContent = original; }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-text]");
    if (!button) return;
    event.preventDefault();
    var text = button.dataset.copyText;
    if (text === undefined) {
      var source = document.querySelector(button.dataset.copy);
      text = source ? source.textContent.trim() : "";
    }
    copyText(text).then(
      function () { flash(button, "Copied"); },
      function () { flash(button, "Press Ctrl+C"); }
    );
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
})();
