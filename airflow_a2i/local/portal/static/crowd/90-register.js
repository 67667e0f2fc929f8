  // ---------------------------------------------------------------------------------------------------
  // Registration: every fragment adds its elements to ELEMENTS (00-kit.js), crowd-form first so the forms
  // exist when the task elements look for them.


  // Unsupported crowd elements would otherwise render as nothing: say so where they are, and refuse to submit
  // (the answer would silently lack what they ask for).
  function flagUnsupported() {
    const tags = new Set();
    for (const element of document.querySelectorAll('*')) {
      if (element.localName.startsWith('crowd-') && !customElements.get(element.localName)) {
        tags.add(`<${element.localName}>`);
        element.before(h('p', {class: 'a2i-problem', role: 'alert',
          text: `This task uses <${element.localName}>, which the local worker portal does not support.`}));
      }
    }
    if (!tags.size) return;
    submissionRefusal = `This task cannot be submitted here: it uses ${Array.from(tags).join(', ')}, which the `
      + 'local worker portal does not support yet, so the answer would lack what it asks for.';
    for (const crowdForm of document.querySelectorAll('crowd-form')) crowdForm.showRefusal();
  }

  // Defined once the document is parsed, so every element renders with all its children present.
  function defineAll() {
    for (const [tag, ElementClass] of ELEMENTS) {
      if (!customElements.get(tag)) customElements.define(tag, ElementClass);
    }
    flagUnsupported();
    document.dispatchEvent(new Event('all-crowd-elements-ready', {bubbles: true}));
  }

  // supported: the tags defined here, which the server's supported_crowd_elements() must equal (a test checks).
  window.a2iCrowdElements = {parseLiteral, supported: ELEMENTS.map(([tag]) => tag)};
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', defineAll, {once: true});
  else defineAll();
