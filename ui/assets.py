"""The studio's stylesheet and page script (served inline: no CDN, nothing fetched)."""

CSS = """
#signin { max-width: 520px; margin: 24px auto; }
#account-line { font-size: 0.95rem; }
.gv-queue { display: flex; flex-direction: column; gap: 10px; }
.gv-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
           background: var(--background-fill-secondary); }
.gv-card header { display: flex; gap: 8px; align-items: center; flex-wrap: wrap;
                  font-size: 0.85rem; }
.gv-badge { border-radius: 999px; padding: 1px 8px; font-weight: 600; font-size: 0.75rem;
            background: var(--neutral-200); color: var(--neutral-800); }
.gv-queued .gv-badge, .gv-pending .gv-badge { background: #dbe7ff; color: #1d3f8f; }
.gv-processing .gv-badge { background: #fff1c2; color: #6b4e00; }
.gv-completed .gv-badge { background: #d6f5df; color: #14532d; }
.gv-failed .gv-badge { background: #fde0e0; color: #8a1c1c; }
.gv-time { margin-left: auto; opacity: 0.7; }
.gv-cancel { border: 1px solid #b42318; color: #b42318; background: transparent; border-radius: 6px;
             padding: 2px 10px; cursor: pointer; }
.gv-cancel:focus-visible { outline: 2px solid #b42318; outline-offset: 2px; }
.gv-prompt { margin: 6px 0; overflow-wrap: anywhere; }
.gv-results { display: flex; gap: 6px; flex-wrap: wrap; }
.gv-thumb { max-width: 160px; max-height: 160px; border-radius: 6px; }
.gv-large { max-width: 100%; max-height: 70vh; border-radius: 8px; }
.gv-note { font-size: 0.75rem; opacity: 0.75; margin-top: 4px; }
.gv-error { color: #b42318; }
.gv-state progress { width: 60%; vertical-align: middle; }
.gv-facts th { text-align: left; padding-right: 12px; font-weight: 600; white-space: nowrap; }
#stats table { display: block; overflow-x: auto; max-width: 100%; }
#stats th, #stats td, #profile td:first-child { white-space: nowrap; word-break: normal; }
.gv-download { display: inline-block; margin: 6px 8px 6px 0; }
#header { flex-wrap: wrap; align-items: center; }
@media (max-width: 480px) {
  .gv-thumb { max-width: 100%; }
  #header > #account-line { flex: 1 1 100%; min-width: 100%; }
  #header > #credits { flex: 1 1 auto; }
  .gv-facts { width: 100%; overflow-wrap: anywhere; }
}
"""

HEAD = """
<script>
(function () {
  // Ctrl+Enter (Cmd+Enter) in the prompt presses Generate.
  document.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && e.target.closest &&
        e.target.closest('#prompt')) {
      e.preventDefault();
      var run = document.querySelector('#run');
      if (run) run.click();
    }
  }, true);
  // A Cancel button in the live queue hands its job id to the hidden cancel control.
  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('[data-cancel]');
    if (!button) return;
    var box = document.querySelector('#cancel-id textarea, #cancel-id input');
    var go = document.querySelector('#cancel-go');
    if (!box || !go) return;
    box.value = button.getAttribute('data-cancel');
    box.dispatchEvent(new Event('input', {bubbles: true}));
    button.disabled = true;
    button.textContent = 'Cancelling…';
    setTimeout(function () { go.click(); }, 50);
  }, true);
})();
</script>
"""

CLEAR_SIGN_IN = ("() => { try { localStorage.removeItem('genova-studio'); } catch (e) {} "
                 "return []; }")
COUNT_PROMPT = "(p) => `${(p || '').length} / 500 characters`"
