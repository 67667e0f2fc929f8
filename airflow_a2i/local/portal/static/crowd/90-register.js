  // ---------------------------------------------------------------------------------------------------
  // Registration: every fragment adds its elements to ELEMENTS (00-kit.js), crowd-form first so the forms
  // exist when the task elements look for them.


  // Unsupported crowd elements would otherwise render as nothing: say so where they are.
  function flagUnsupported() {
    for (const element of document.querySelectorAll('*')) {
      if (element.localName.startsWith('crowd-') && !customElements.get(element.localName)) {
        element.before(h('p', {class: 'a2i-problem', role: 'alert',
          text: `This task uses <${element.localName}>, which the local worker portal does not support.`}));
      }
    }
  }

  // Defined once the document is parsed, so every element renders with all its children present.
  function defineAll() {
    for (const [tag, ElementClass] of ELEMENTS) {
      if (!customElements.get(tag)) customElements.define(tag, ElementClass);
    }
    flagUnsupported();
    document.dispatchEvent(new Event('all-crowd-elements-ready', {bubbles: true}));
  }

  window.a2iCrowdElements = {parseLiteral};
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', defineAll, {once: true});
  else defineAll();
