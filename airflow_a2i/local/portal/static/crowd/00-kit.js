  /*
   * The local worker portal's own crowd HTML elements, in fragments (crowd/*.js) that page.py joins in name
   * order into one function scope: each fragment may use what an earlier one defines (this kit: the literal
   * parser, DOM helpers, the task frame, crowd-form and the CrowdElement base class) and adds its elements to
   * ELEMENTS; 90-register.js defines them all once the document is parsed.
   *
   * Amazon's crowd-html-elements.js cannot be fetched here (nothing outside loopback is reachable), so these
   * files implement the elements A2I task templates use. Everything renders into the light DOM so native
   * inputs take part in form submission, and every page element is built with createElement/textContent:
   * attribute values are data and are never parsed as HTML.
   *
   * Form contract (the server builds the answer from exactly these fields; reserved names start with __a2i_):
   * see airflow_a2i/local/portal/elements/__init__.py.
   */

  // [tag, class] of every element, in definition order; every fragment pushes its own.
  const ELEMENTS = [];

  // ---------------------------------------------------------------------------------------------------
  // A lenient parser for the JavaScript-style literals in attribute values: single or double quotes,
  // unquoted keys, trailing commas, comments, Python's True/False/None. Never eval: values are data.

  class LiteralError extends Error {}

  const KEYWORDS = new Map([
    ['true', true], ['false', false], ['null', null], ['undefined', null],
    ['True', true], ['False', false], ['None', null],
  ]);

  class LiteralParser {
    constructor(text) {
      this.text = text;
      this.pos = 0;
    }

    fail(message) {
      throw new LiteralError(`${message} at character ${this.pos + 1}`);
    }

    atEnd() {
      return this.pos >= this.text.length;
    }

    peek() {
      return this.text.charAt(this.pos);
    }

    skipSpace() {
      for (;;) {
        const pair = this.text.slice(this.pos, this.pos + 2);
        if (/^\s/.test(this.peek())) {
          this.pos += 1;
        } else if (pair === '//') {
          const end = this.text.indexOf('\n', this.pos);
          this.pos = end < 0 ? this.text.length : end;
        } else if (pair === '/*') {
          const end = this.text.indexOf('*/', this.pos + 2);
          if (end < 0) this.fail('unclosed comment');
          this.pos = end + 2;
        } else {
          return;
        }
      }
    }

    expect(char) {
      this.skipSpace();
      if (this.peek() !== char) this.fail(`expected ${char}`);
      this.pos += 1;
    }

    value() {
      this.skipSpace();
      const char = this.peek();
      if (char === '[') return this.array();
      if (char === '{') return this.object();
      if (char === '"' || char === "'" || char === '`') return this.string();
      if (/^[-+.\d]/.test(char)) return this.number();
      const word = this.identifier();
      if (KEYWORDS.has(word)) return KEYWORDS.get(word);
      return this.fail(`unexpected ${word ? JSON.stringify(word) : 'end of text'}`);
    }

    array() {
      const items = [];
      this.expect('[');
      for (;;) {
        this.skipSpace();
        if (this.peek() === ']') break;
        if (this.peek() === ',') { // a hole or a doubled comma: skipped
          this.pos += 1;
          continue;
        }
        items.push(this.value());
        this.skipSpace();
        if (this.peek() === ',') this.pos += 1;
        else if (this.peek() !== ']') this.fail('expected , or ]');
      }
      this.pos += 1;
      return items;
    }

    object() {
      const result = {};
      this.expect('{');
      for (;;) {
        this.skipSpace();
        if (this.peek() === '}') break;
        if (this.peek() === ',') {
          this.pos += 1;
          continue;
        }
        const key = this.key();
        this.expect(':');
        // defineProperty: a key named __proto__ stays an ordinary key
        Object.defineProperty(result, key, {value: this.value(), enumerable: true, writable: true, configurable: true});
        this.skipSpace();
        if (this.peek() === ',') this.pos += 1;
        else if (this.peek() !== '}') this.fail('expected , or }');
      }
      this.pos += 1;
      return result;
    }

    key() {
      this.skipSpace();
      const char = this.peek();
      if (char === '"' || char === "'" || char === '`') return this.string();
      if (/^[-+.\d]/.test(char)) return String(this.number());
      const word = this.identifier();
      if (!word) this.fail('expected a key');
      return word;
    }

    identifier() {
      const pattern = /[\p{L}_$][\p{L}\p{N}_$]*/uy;
      pattern.lastIndex = this.pos;
      const match = pattern.exec(this.text);
      if (!match) return '';
      this.pos = pattern.lastIndex;
      return match[0];
    }

    number() {
      const pattern = /[-+]?(?:Infinity|0[xX][\da-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/y;
      pattern.lastIndex = this.pos;
      const match = pattern.exec(this.text);
      if (!match) this.fail('bad number');
      this.pos = pattern.lastIndex;
      const text = match[0];
      const negative = text.startsWith('-');
      const magnitude = Number(text.replace(/^[-+]/, ''));
      return negative ? -magnitude : magnitude;
    }

    string() {
      const quote = this.peek();
      let result = '';
      this.pos += 1;
      for (;;) {
        if (this.atEnd()) this.fail('unterminated string');
        const char = this.peek();
        this.pos += 1;
        if (char === quote) return result;
        result += char === '\\' ? this.escape() : char;
      }
    }

    escape() {
      if (this.atEnd()) this.fail('unterminated string');
      const char = this.peek();
      this.pos += 1;
      const simple = {n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', 0: '\0', '\n': ''};
      if (Object.hasOwn(simple, char)) return simple[char];
      if (char === 'x') return this.codePoint(/[\da-fA-F]{2}/y);
      if (char === 'u' && this.peek() === '{') return this.codePoint(/\{([\da-fA-F]{1,6})\}/y);
      if (char === 'u') return this.codePoint(/[\da-fA-F]{4}/y);
      return char; // \' \" \\ \/ and any other escaped character stand for themselves
    }

    codePoint(pattern) {
      pattern.lastIndex = this.pos;
      const match = pattern.exec(this.text);
      if (!match) this.fail('bad escape');
      this.pos = pattern.lastIndex;
      const code = parseInt(match[1] || match[0], 16);
      if (code > 0x10ffff) this.fail('bad escape');
      return String.fromCodePoint(code);
    }
  }

  function parseLiteral(source) {
    const parser = new LiteralParser(String(source));
    const result = parser.value();
    parser.skipSpace();
    if (!parser.atEnd()) parser.fail('unexpected text after the value');
    return result;
  }

  // ---------------------------------------------------------------------------------------------------
  // Small DOM helpers. h() only ever sets text, attributes, properties and listeners: no HTML parsing.

  const PROPERTIES = new Set(['value', 'checked', 'disabled', 'required', 'hidden', 'open']);
  let lastId = 0;

  function uid(prefix) {
    lastId += 1;
    return `a2i-${prefix}-${lastId}`;
  }

  function h(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'style') Object.assign(node.style, value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else if (PROPERTIES.has(key)) node[key] = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of [].concat(children)) {
      if (child !== null && child !== undefined && child !== false) node.append(child); // strings become Text nodes
    }
    return node;
  }

  function takeChildren(element) {
    const nodes = Array.from(element.childNodes);
    element.replaceChildren();
    return nodes;
  }

  function hasVisibleContent(nodes) {
    return nodes.some((node) => node.nodeType === Node.ELEMENT_NODE || node.textContent.trim() !== '');
  }

  function textOf(item) {
    if (item === null || item === undefined) return '';
    if (typeof item === 'string') return item;
    if (typeof item === 'object') {
      for (const key of ['label', 'name', 'Name', 'text']) {
        if (typeof item[key] === 'string') return item[key];
      }
      return JSON.stringify(item);
    }
    return String(item);
  }

  // Only ordinary web addresses: a task value such as "javascript:..." must not become a link or an image.
  function safeUrl(raw, {allowDataImages = true} = {}) {
    if (!raw) return '';
    try {
      const url = new URL(raw.trim(), document.baseURI);
      if (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'blob:') return url.href;
      if (allowDataImages && url.protocol === 'data:' && /^data:image\//i.test(url.href)) return url.href;
    } catch (error) {
      return '';
    }
    return '';
  }

  function report(element, message) {
    console.warn(`<${element.localName}>: ${message}`);
    element.prepend(h('p', {class: 'a2i-problem', role: 'alert', text: message}));
  }

  function literalAttr(element, name, fallback) {
    const raw = element.getAttribute(name);
    if (raw === null || raw.trim() === '') return fallback;
    try {
      return parseLiteral(raw);
    } catch (error) {
      report(element, `The ${name} attribute could not be read (${error.message}).`);
      return fallback;
    }
  }

  function listAttr(element, name) {
    const value = literalAttr(element, name, []);
    if (Array.isArray(value)) return value;
    return value === null ? [] : [value];
  }

  function numberAttr(element, name, fallback) {
    const value = Number(element.getAttribute(name));
    return element.hasAttribute(name) && element.getAttribute(name).trim() !== '' && Number.isFinite(value)
      ? value : fallback;
  }

  function fieldName(element) {
    // A nameless element still posts under a stable key (the tag) so its answer is not lost.
    return element.getAttribute('name') || element.localName;
  }

  function hiddenInput(name, value = '') {
    return h('input', {type: 'hidden', name, value});
  }

  // The same field in camelCase (what A2I passes to templates) or PascalCase (what the AWS APIs return).
  function pick(object, camel) {
    if (!object || typeof object !== 'object') return undefined;
    const pascal = camel.charAt(0).toUpperCase() + camel.slice(1);
    return object[camel] !== undefined ? object[camel] : object[pascal];
  }

  function clamp(value, low, high) {
    return Math.min(Math.max(value, low), high);
  }

  function percent(confidence) {
    return `${Math.round(confidence * 10) / 10}%`;
  }

  // ---------------------------------------------------------------------------------------------------
  // Instructions and the common frame of task elements.

  const INSTRUCTION_TAGS = new Set(['short-instructions', 'full-instructions']);

  function splitInstructions(nodes) {
    const instructions = nodes.filter((node) => INSTRUCTION_TAGS.has(node.localName));
    const rest = nodes.filter((node) => !INSTRUCTION_TAGS.has(node.localName));
    return {instructions, rest};
  }

  function instructionsPanel(instructions) {
    if (instructions.length === 0) return null;
    const panel = h('aside', {class: 'a2i-instructions', 'aria-label': 'Instructions'});
    const shortFirst = [...instructions].sort((a, b) =>
      Number(a.localName !== 'short-instructions') - Number(b.localName !== 'short-instructions'));
    for (const element of shortFirst) {
      const heading = element.getAttribute('header') || 'Instructions';
      if (element.localName === 'short-instructions') {
        panel.append(h('h3', {text: heading}), element);
      } else {
        panel.append(h('details', {class: 'a2i-full-instructions'}, [
          h('summary', {text: 'View full instructions'}), h('h3', {text: heading}), element,
        ]));
      }
    }
    return panel;
  }

  // The layout every task element shares: instructions on the side, the header and the work area.
  function taskFrame(element, instructions, body) {
    const header = element.getAttribute('header');
    const panel = instructionsPanel(instructions);
    const work = h('section', {class: 'a2i-work'}, [header ? h('h2', {class: 'a2i-header', text: header}) : null]);
    work.append(...[].concat(body));
    return h('div', {class: panel ? 'a2i-task a2i-with-instructions' : 'a2i-task'}, [panel, work]);
  }

  function choiceList({type, name, values, legend, required = false}) {
    const inputs = [];
    const fieldset = h('fieldset', {class: 'a2i-choices'}, [h('legend', {text: legend})]);
    for (const value of values) {
      const input = h('input', {type, name, value});
      inputs.push(input);
      fieldset.append(h('label', {class: 'a2i-choice'}, [input, h('span', {text: value})]));
    }
    if (required && type === 'radio' && inputs.length) inputs[0].required = true;
    if (required && type === 'checkbox') requireOneChecked(inputs, 'Choose at least one option.');
    return {fieldset, inputs};
  }

  // Native validation has no "at least one of these checkboxes": a custom validity message on the first.
  function requireOneChecked(inputs, message) {
    if (!inputs.length) return;
    const update = () => inputs[0].setCustomValidity(inputs.some((input) => input.checked) ? '' : message);
    for (const input of inputs) input.addEventListener('change', update);
    update();
  }

  function taskImage(src, alt) {
    const url = safeUrl(src);
    const image = h('img', {class: 'a2i-task-image', alt, draggable: 'false'});
    if (url) image.src = url;
    return image;
  }

  // ---------------------------------------------------------------------------------------------------
  // Forms: crowd-form wraps its content in a real <form> posting to the portal.

  function metaContent(name) {
    const meta = document.querySelector(`meta[name="${name}"]`);
    return meta ? meta.content : '';
  }

  function nativeForm() {
    const form = h('form', {method: 'post', class: 'a2i-form'});
    const action = metaContent('a2i-submit');
    if (action) form.setAttribute('action', action);
    form.append(hiddenInput('__a2i_csrf', metaContent('a2i-csrf')));
    return form;
  }

  function submitRow() {
    return h('div', {class: 'a2i-submit-row'}, [
      h('button', {type: 'submit', class: 'a2i-button a2i-primary', text: 'Submit'}),
    ]);
  }

  // Set (90-register.js) when the page has a crowd element the portal lacks: no answer from it would be whole, so
  // nothing submits; the server refuses such a post as well.
  let submissionRefusal = '';

  // Templates append questions to crowd-form's form (form.appendChild): the Submit row the portal added stays
  // last, with the reason it is off, if any, right above it.
  function keepLast(form, row) {
    new MutationObserver(() => {
      if (row.parentNode !== form || !row.nextSibling) return;
      const refusal = row.previousElementSibling;
      form.append(...(refusal && refusal.classList.contains('a2i-refusal') ? [refusal, row] : [row]));
    }).observe(form, {childList: true});
  }

  class CrowdForm extends HTMLElement {
    connectedCallback() {
      if (this.a2iForm) return;
      const form = nativeForm();
      form.append(...takeChildren(this));
      if (!form.querySelector('crowd-button[form-action="submit"]')) {
        const row = submitRow();
        form.append(row);
        keepLast(form, row);
      }
      form.addEventListener('submit', (event) => this.onNativeSubmit(event));
      this.a2iForm = form;
      this.append(form);
    }

    get form() {
      return this.a2iForm || null;
    }

    // Validation, then the template's own submit handlers (they may cancel), then the real post.
    submit() {
      if (this.a2iForm) HTMLFormElement.prototype.requestSubmit.call(this.a2iForm);
    }

    onNativeSubmit(event) {
      event.preventDefault();
      event.stopPropagation(); // templates listen on crowd-form: they get the event dispatched below instead
      if (this.a2iSubmitting) return;
      if (submissionRefusal) {
        this.showRefusal();
        return;
      }
      const crowdEvent = new Event('submit', {bubbles: true, cancelable: true});
      if (!this.dispatchEvent(crowdEvent)) return;
      this.a2iSubmitting = true;
      for (const button of this.a2iForm.querySelectorAll('button[type="submit"]')) button.disabled = true;
      HTMLFormElement.prototype.submit.call(this.a2iForm);
    }

    // Submit buttons off, and the reason beside them (once).
    showRefusal() {
      if (!this.a2iForm) return;
      if (!this.a2iRefusal) {
        this.a2iRefusal = h('p', {class: 'a2i-problem a2i-refusal', role: 'alert', id: uid('refusal')});
        const row = this.a2iForm.querySelector('.a2i-submit-row');
        if (row) row.before(this.a2iRefusal);
        else this.a2iForm.append(this.a2iRefusal);
      }
      this.a2iRefusal.textContent = submissionRefusal;
      const buttons = this.a2iForm.querySelectorAll('button[type="submit"], crowd-button[form-action="submit"] button');
      for (const button of buttons) {
        button.disabled = true;
        button.title = submissionRefusal;
        button.setAttribute('aria-describedby', this.a2iRefusal.id);
      }
    }
  }

  // Elements that submit on their own outside a crowd-form get a generated crowd-form around them.
  function ensureOwnForm(element) {
    if (element.closest('crowd-form, form')) return;
    const parent = element.parentNode;
    const next = element.nextSibling;
    const wrapper = document.createElement('crowd-form');
    wrapper.setAttribute('data-a2i-generated', '');
    wrapper.append(element);
    parent.insertBefore(wrapper, next);
  }

  function requestSubmitFrom(element) {
    const crowdForm = element.closest('crowd-form') || document.querySelector('crowd-form');
    if (crowdForm && typeof crowdForm.submit === 'function') crowdForm.submit();
  }

  // A control the server reads an answer from (a named input, select, textarea or crowd element).
  function isControl(node) {
    return node.hasAttribute('name') && (['input', 'select', 'textarea'].includes(node.localName)
      || node.localName.startsWith('crowd-'));
  }

  function holdsControl(node) {
    return node.nodeType === Node.ELEMENT_NODE
      && (isControl(node) || Array.from(node.querySelectorAll('[name]')).some(isControl));
  }

  // The server makes an answer from every control the page declares (an unchecked box records false): one that an
  // element's rendering left out would put a value in the answer for something the worker never saw. So children
  // holding controls that render() did not place are shown after it.
  function keepControls(element, children) {
    const left = children.filter((node) => !node.isConnected && holdsControl(node));
    if (left.length) element.append(h('div', {class: 'a2i-kept-controls'}, left));
  }

  // Base class: render once, when first connected, from the attributes and children the template gave.
  class CrowdElement extends HTMLElement {
    connectedCallback() {
      if (this.a2iRendered) return;
      this.a2iRendered = true;
      const children = takeChildren(this);
      this.render(children);
      keepControls(this, children);
      if (this.constructor.submitsAlone) ensureOwnForm(this);
    }

    render() {}

    // The real elements render into a shadow root, and templates reach into it: the elements that submit alone
    // hold their own crowd-form there (shadowRoot.querySelector('crowd-form').form.appendChild(...)), and AWS's
    // layout has its instructions pane and dialog (.awsui-app-layout__navigation, .awsui-modal-dialog), which
    // templates resize. Here everything is light DOM: a stand-in that finds the parts that play those roles. An
    // element with a shadow root of its own (the drawing elements') gives that one.
    get shadowRoot() {
      return NATIVE_SHADOW_ROOT.call(this) || shadowRootStandIn(this);
    }
  }

  const NATIVE_SHADOW_ROOT = Object.getOwnPropertyDescriptor(Element.prototype, 'shadowRoot').get;
  // AWS's layout parts that templates look up in an element's shadow root -> what plays their role here.
  const LAYOUT_PARTS = new Map([
    ['.awsui-app-layout__navigation', '.a2i-instructions'],
    ['.awsui-modal-dialog', '.a2i-full-instructions'],
  ]);

  function shadowRootStandIn(element) {
    const find = (selector) => {
      const wanted = String(selector).trim();
      if (wanted.toLowerCase() === 'crowd-form') return element.constructor.submitsAlone ? element.closest('crowd-form') : null;
      return element.querySelector(LAYOUT_PARTS.get(wanted) || wanted);
    };
    return {
      host: element,
      querySelector: find,
      querySelectorAll: (selector) => {
        const wanted = String(selector).trim();
        if (wanted.toLowerCase() === 'crowd-form' || LAYOUT_PARTS.has(wanted)) return [find(wanted)].filter(Boolean);
        return element.querySelectorAll(wanted);
      },
    };
  }

  ELEMENTS.push(['crowd-form', CrowdForm]);
