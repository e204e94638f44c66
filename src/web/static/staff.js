// The work queue without a mouse: j / k move between cases, x ticks the case, Enter
// opens it (the link has focus), / goes to the filters. Everything also works with Tab
// and Space; this only shortens the way. Keys typed into a form field are left alone.
(function () {
  var table = document.querySelector('table.queue');
  if (!table) return;
  var links = Array.prototype.slice.call(table.querySelectorAll('tbody tr td:nth-child(2) a'));
  function at() { return links.indexOf(document.activeElement); }
  document.addEventListener('keydown', function (e) {
    var t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName)) return;
    var i = at();
    if (e.key === 'j' || e.key === 'k') {
      var next = e.key === 'j' ? Math.min(i + 1, links.length - 1) : Math.max(i - 1, 0);
      if (i < 0) next = 0;
      if (links[next]) { links[next].focus(); e.preventDefault(); }
    } else if (e.key === 'x' && i >= 0) {
      var box = links[i].closest('tr').querySelector('input[type=checkbox]');
      if (box) { box.checked = !box.checked; e.preventDefault(); }
    } else if (e.key === '/') {
      var f = document.getElementById('f-status');
      if (f) { f.focus(); e.preventDefault(); }
    }
  });
})();
