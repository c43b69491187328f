// Progressive enhancement, nothing more: every form works without this file.
// A form marked data-enhance="<id>" is sent with fetch; the server answers with the
// rendered fragment only (header X-Costsvc-Fragment), which replaces element <id>.
(function () {
  "use strict";
  var FRAGMENT = { "X-Costsvc-Fragment": "1" };

  function swap(target, html) {
    target.innerHTML = html;
    target.removeAttribute("aria-busy");
    var focus = target.querySelector("[aria-invalid=true], [data-focus]") || target;
    if (focus.tabIndex < 0 && !focus.hasAttribute("tabindex")) focus.setAttribute("tabindex", "-1");
    focus.focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var target = form.dataset && form.dataset.enhance && document.getElementById(form.dataset.enhance);
    if (!target || !window.fetch) return;
    event.preventDefault();
    var data = new URLSearchParams();
    new FormData(form).forEach(function (value, name) { if (value !== "") data.append(name, value); });  // short addresses
    if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
    var method = (form.getAttribute("method") || "get").toUpperCase();
    var url = form.action, init = { method: method, headers: FRAGMENT, credentials: "same-origin" };
    if (method === "GET") {
      url = url.split("?")[0] + "?" + data.toString();
    } else {
      init.body = data;
    }
    target.setAttribute("aria-busy", "true");
    fetch(url, init).then(function (response) {
      return response.text().then(function (html) {
        swap(target, html);
        if (method === "GET" && window.history) window.history.replaceState(null, "", url);
        document.dispatchEvent(new CustomEvent("costsvc:updated", { detail: { status: response.status } }));
      });
    }).catch(function () { form.submit(); });  // the network failed: let the browser try the plain way
  });

  // A search box that narrows a <select> (data-filter="<select id>") as one types.
  document.addEventListener("input", function (event) {
    var box = event.target, select = box.dataset && box.dataset.filter && document.getElementById(box.dataset.filter);
    if (!select) return;
    var needle = box.value.trim().toLowerCase();
    Array.prototype.forEach.call(select.options, function (option) {
      option.hidden = needle !== "" && option.value !== "" && option.text.toLowerCase().indexOf(needle) < 0;
    });
  });
})();
