// A little help on top of forms that work without it.
// An optional group is shown only while its "Renseigner : …" box is ticked (without this script the
// group is always shown, and the box alone decides whether it is recorded).
document.querySelectorAll('input[type="checkbox"][aria-controls]').forEach(function (box) {
  var group = document.getElementById(box.getAttribute('aria-controls'));
  if (!group) return;
  var sync = function () { group.hidden = !box.checked; };
  box.addEventListener('change', sync);
  sync();
});
// After a refused submission, the list of errors takes the focus (screen readers read it first).
var summary = document.getElementById('erreurs');
if (summary) summary.focus();
// A table wider than its frame scrolls inside it: the frame then takes the keyboard focus (arrow keys
// scroll it) and is named after its table's caption, so that the whole table stays reachable.
var frameTables = function () {
  document.querySelectorAll('.table-wrap').forEach(function (frame) {
    var scrolls = frame.scrollWidth > frame.clientWidth + 1;
    if (scrolls && !frame.hasAttribute('tabindex')) {
      var caption = frame.querySelector('caption');
      frame.setAttribute('tabindex', '0');
      frame.setAttribute('role', 'region');
      frame.setAttribute('aria-label', caption ? caption.textContent.trim() : 'Tableau');
      frame.dataset.framed = 'yes';
    } else if (!scrolls && frame.dataset.framed === 'yes') {
      frame.removeAttribute('tabindex');
      frame.removeAttribute('role');
      frame.removeAttribute('aria-label');
      delete frame.dataset.framed;
    }
  });
};
frameTables();
window.addEventListener('resize', frameTables);
