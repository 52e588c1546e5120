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
