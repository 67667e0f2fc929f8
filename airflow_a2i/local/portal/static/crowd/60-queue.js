  // ---------------------------------------------------------------------------------------------------
  // A day of reviewing (the queue bar above a task: views.task_bar). Ctrl+Enter, or ⌘+Enter, submits the task
  // (the portal then opens the next one): neither types anything in an input or a text area, so it is taken even
  // there. Leaving the page any other way than by submitting releases the task it holds, with a beacon.

  function taskPage() {
    return document.querySelector('main.a2i-task-page');
  }

  // The crowd-form's own submit (validation, then the template's submit handlers, then the post); a template
  // without one may have a plain form.
  function submitTask() {
    const main = taskPage();
    if (!main) return false;
    const crowdForm = main.querySelector('crowd-form');
    if (crowdForm && typeof crowdForm.submit === 'function') {
      crowdForm.submit();
      return true;
    }
    const form = main.querySelector('form');
    if (!form) return false;
    form.requestSubmit();
    return true;
  }

  function isSubmitKey(event) {
    return event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
  }

  // Capture phase: an element that handles Enter itself does not swallow the shortcut.
  window.addEventListener('keydown', (event) => {
    if (!isSubmitKey(event) || event.repeat) return;
    if (submitTask()) event.preventDefault();
  }, true);

  function releaseOnLeaving() {
    const release = document.querySelector('form.a2i-release');
    if (!release || !navigator.sendBeacon) return;
    let lastSubmit = null;
    window.addEventListener('submit', (event) => {
      lastSubmit = event;
    }, true);
    // Read when the page goes: by then a submit's handlers have decided whether it posts.
    const answering = () => [...document.querySelectorAll('crowd-form')].some((form) => form.a2iSubmitting)
      || (lastSubmit !== null && !lastSubmit.defaultPrevented && lastSubmit.target.closest('main.a2i-task-page'));
    window.addEventListener('pagehide', () => {
      if (answering()) return; // the answer is on its way; the portal ends the hold when it takes it
      const url = new URL(release.action, document.baseURI);
      if (url.origin !== window.location.origin) return;
      navigator.sendBeacon(url.href, new URLSearchParams(new FormData(release)));
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', releaseOnLeaving, {once: true});
  else releaseOnLeaving();
