/*
 * The local worker portal's own crowd HTML elements.
 *
 * Amazon's crowd-html-elements.js cannot be fetched here (nothing outside loopback is reachable), so this
 * file implements the elements A2I task templates use. Everything renders into the light DOM so native
 * inputs take part in form submission, and every page element is built with createElement/textContent:
 * attribute values are data and are never parsed as HTML.
 *
 * Form contract (the server builds the answer from exactly these fields; reserved names start with __a2i_):
 * see airflow_a2i/portal/elements.py.
 */
(() => {
  'use strict';

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

  class CrowdForm extends HTMLElement {
    connectedCallback() {
      if (this.a2iForm) return;
      const form = nativeForm();
      form.append(...takeChildren(this));
      if (!form.querySelector('crowd-button[form-action="submit"]')) form.append(submitRow());
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
      const crowdEvent = new Event('submit', {bubbles: true, cancelable: true});
      if (!this.dispatchEvent(crowdEvent)) return;
      this.a2iSubmitting = true;
      for (const button of this.a2iForm.querySelectorAll('button[type="submit"]')) button.disabled = true;
      HTMLFormElement.prototype.submit.call(this.a2iForm);
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

  // Base class: render once, when first connected, from the attributes and children the template gave.
  class CrowdElement extends HTMLElement {
    connectedCallback() {
      if (this.a2iRendered) return;
      this.a2iRendered = true;
      this.render(takeChildren(this));
      if (this.constructor.submitsAlone) ensureOwnForm(this);
    }

    render() {}
  }

  // ---------------------------------------------------------------------------------------------------
  // Classifiers.

  class CrowdClassifier extends CrowdElement {
    static submitsAlone = true;

    render(children) {
      const {instructions, rest} = splitInstructions(children);
      const categories = listAttr(this, 'categories').map(textOf);
      const {fieldset} = choiceList({
        type: 'radio', name: fieldName(this), values: categories, legend: 'Categories',
        required: this.hasAttribute('required'),
      });
      const target = hasVisibleContent(rest) ? h('div', {class: 'a2i-target'}, rest) : null;
      this.append(taskFrame(this, instructions, [target, fieldset]));
    }
  }

  class CrowdClassifierMultiSelect extends CrowdElement {
    render(children) {
      const {instructions, rest} = splitInstructions(children);
      const categories = listAttr(this, 'categories').map(textOf);
      const {fieldset} = choiceList({
        type: 'checkbox', name: fieldName(this), values: categories, legend: 'Categories (choose all that apply)',
        required: this.hasAttribute('required'),
      });
      const target = hasVisibleContent(rest) ? h('div', {class: 'a2i-target'}, rest) : null;
      this.append(taskFrame(this, instructions, [target, fieldset]));
    }
  }

  class CrowdImageClassifier extends CrowdElement {
    render(children) {
      const {instructions} = splitInstructions(children);
      const name = fieldName(this);
      const {fieldset} = choiceList({
        type: 'radio', name, values: listAttr(this, 'categories').map(textOf), legend: 'Categories',
        required: this.hasAttribute('required'),
      });
      const comment = labelledField(h('textarea', {name: `__a2i_comment:${name}`, rows: 2}), 'Comment (optional)');
      const image = taskImage(this.getAttribute('src'), this.getAttribute('header') || 'Image to classify');
      this.append(taskFrame(this, instructions, [h('div', {class: 'a2i-image-box'}, image), fieldset, comment]));
    }
  }

  class CrowdImageClassifierMultiSelect extends CrowdElement {
    render(children) {
      const {instructions} = splitInstructions(children);
      const categories = listAttr(this, 'categories').map(textOf);
      const exclusion = textOf(literalAttr(this, 'exclusion-category', null));
      const values = exclusion && !categories.includes(exclusion) ? [...categories, exclusion] : categories;
      const {fieldset, inputs} = choiceList({
        type: 'checkbox', name: fieldName(this), values, legend: 'Categories (choose all that apply)',
        required: this.hasAttribute('required'),
      });
      const exclusive = exclusion ? inputs.find((input) => input.value === exclusion) : null;
      if (exclusive) {
        // Not posted: choosing it answers with no labels, as the categories stay unchecked.
        exclusive.setAttribute('form', 'a2i-not-submitted');
        makeExclusive(exclusive, inputs);
      }
      const image = taskImage(this.getAttribute('src'), this.getAttribute('header') || 'Image to classify');
      this.append(taskFrame(this, instructions, [h('div', {class: 'a2i-image-box'}, image), fieldset]));
    }
  }

  // Checking the exclusive box clears the others, and checking any other clears it.
  function makeExclusive(exclusive, inputs) {
    if (!exclusive) return;
    for (const input of inputs) {
      input.addEventListener('change', () => {
        if (!input.checked) return;
        for (const other of inputs) {
          if ((input === exclusive) !== (other === exclusive)) other.checked = false;
        }
      });
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Text inputs, checkboxes, radio buttons, sliders.

  const INPUT_TYPES = new Set(['text', 'number', 'email', 'password', 'search', 'tel', 'url', 'date', 'time',
    'datetime-local', 'month', 'week', 'color']);

  // Templates read and write .value on the crowd element itself, as with the real elements.
  function forwardProperty(ElementClass, property, selector) {
    Object.defineProperty(ElementClass.prototype, property, {
      configurable: true,
      get() {
        const inner = this.querySelector(selector);
        return inner ? inner[property] : undefined;
      },
      set(value) {
        const inner = this.querySelector(selector);
        if (inner) inner[property] = value;
      },
    });
  }

  // A label tied by id rather than wrapping, so the control's own value never becomes part of its name.
  function labelledField(control, labelText, extra = null) {
    control.id = control.id || uid('field');
    return h('div', {class: 'a2i-field'}, [h('label', {class: 'a2i-field-label', for: control.id, text: labelText}),
      extra ? h('div', {class: 'a2i-field-row'}, [control, extra]) : control]);
  }

  function fieldLabel(element, control, labelText) {
    if (labelText) return labelledField(control, labelText);
    control.setAttribute('aria-label', element.getAttribute('placeholder') || fieldName(element));
    return h('div', {class: 'a2i-field'}, control);
  }

  class CrowdInput extends CrowdElement {
    render() {
      const type = (this.getAttribute('type') || 'text').toLowerCase();
      const input = h('input', {
        name: fieldName(this),
        type: INPUT_TYPES.has(type) ? type : 'text',
        placeholder: this.getAttribute('placeholder'),
        value: this.getAttribute('value'),
        required: this.hasAttribute('required'),
        disabled: this.hasAttribute('disabled'),
        maxlength: this.getAttribute('max-length'),
        minlength: this.getAttribute('min-length'),
        max: this.getAttribute('max-value') ?? this.getAttribute('max'),
        min: this.getAttribute('min-value') ?? this.getAttribute('min'),
        step: this.getAttribute('step'),
        pattern: this.getAttribute('pattern'),
      });
      if (this.hasAttribute('auto-focus')) queueMicrotask(() => input.focus());
      const message = this.getAttribute('error-message');
      if (message) {
        input.addEventListener('invalid', () => input.setCustomValidity(input.validity.customError ? '' : message));
        input.addEventListener('input', () => input.setCustomValidity(''));
      }
      this.append(fieldLabel(this, input, this.getAttribute('label')));
    }
  }
  forwardProperty(CrowdInput, 'value', 'input');

  class CrowdTextArea extends CrowdElement {
    render() {
      const textarea = h('textarea', {
        name: fieldName(this),
        rows: this.getAttribute('rows') || 3,
        placeholder: this.getAttribute('placeholder'),
        required: this.hasAttribute('required'),
        disabled: this.hasAttribute('disabled'),
        maxlength: this.getAttribute('max-length'),
      });
      textarea.value = this.getAttribute('value') || '';
      this.append(fieldLabel(this, textarea, this.getAttribute('label')));
    }
  }
  forwardProperty(CrowdTextArea, 'value', 'textarea');

  class CrowdCheckbox extends CrowdElement {
    static isSwitch = false;

    render(children) {
      const input = h('input', {
        type: 'checkbox',
        name: fieldName(this),
        value: this.getAttribute('value') || 'on',
        checked: this.hasAttribute('checked'),
        disabled: this.hasAttribute('disabled'),
        required: this.hasAttribute('required'),
        role: this.constructor.isSwitch ? 'switch' : null,
      });
      const text = h('span', {class: 'a2i-choice-text'}, children);
      if (!text.textContent.trim()) input.setAttribute('aria-label', fieldName(this));
      const track = this.constructor.isSwitch ? h('span', {class: 'a2i-switch-track', 'aria-hidden': 'true'}) : null;
      this.append(h('label', {class: this.constructor.isSwitch ? 'a2i-choice a2i-switch' : 'a2i-choice'},
        [input, track, text]));
    }
  }
  forwardProperty(CrowdCheckbox, 'checked', 'input');

  class CrowdToggleButton extends CrowdCheckbox {
    static isSwitch = true;
  }

  class CrowdRadioGroup extends CrowdElement {
    render(children) {
      this.setAttribute('role', 'radiogroup');
      this.append(...children);
    }
  }

  // Radios of the k-th crowd-radio-group (document order) share the name __a2i_radio_group:k; the value is
  // the crowd-radio-button's name, from which the server rebuilds {VALUE: bool}.
  class CrowdRadioButton extends CrowdElement {
    render(children) {
      const group = this.closest('crowd-radio-group');
      const groupIndex = Array.from(document.querySelectorAll('crowd-radio-group')).indexOf(group);
      const input = group
        ? h('input', {type: 'radio', name: `__a2i_radio_group:${groupIndex}`, value: fieldName(this)})
        : h('input', {type: 'radio', name: fieldName(this), value: this.getAttribute('value') || 'on'});
      input.checked = this.hasAttribute('checked');
      input.disabled = this.hasAttribute('disabled');
      if (group && group.hasAttribute('required')) input.required = true;
      const text = h('span', {class: 'a2i-choice-text'}, children);
      if (!text.textContent.trim()) input.setAttribute('aria-label', fieldName(this));
      this.append(h('label', {class: 'a2i-choice'}, [input, text]));
    }
  }
  forwardProperty(CrowdRadioButton, 'checked', 'input');

  class CrowdSlider extends CrowdElement {
    render() {
      const min = numberAttr(this, 'min', 0);
      const max = numberAttr(this, 'max', 100);
      const input = h('input', {
        type: 'range', name: fieldName(this), min, max, step: numberAttr(this, 'step', 1),
        disabled: this.hasAttribute('disabled'),
      });
      input.value = String(numberAttr(this, 'value', min));
      const output = h('output', {class: 'a2i-slider-value', 'aria-hidden': 'true', text: input.value});
      input.addEventListener('input', () => { output.textContent = input.value; });
      const field = labelledField(input, this.getAttribute('label') || fieldName(this), output);
      field.classList.add('a2i-slider');
      this.append(field);
    }
  }
  forwardProperty(CrowdSlider, 'value', 'input');

  // ---------------------------------------------------------------------------------------------------
  // Image annotation: bounding boxes and keypoints, kept in the image's natural pixels.

  function labelChooser(labels, legend) {
    const name = uid('label-choice');
    const {fieldset, inputs} = choiceList({type: 'radio', name, values: labels, legend});
    fieldset.classList.add('a2i-label-chooser');
    // Not form data: the chosen label only tags what the worker draws next. A form attribute naming no form
    // (a2i-not-submitted) takes the radios out of the task's form while they still work as one radio group.
    for (const input of inputs) input.setAttribute('form', 'a2i-not-submitted');
    if (inputs.length) inputs[0].checked = true;
    const current = () => (inputs.find((input) => input.checked) || {value: labels[0] || ''}).value;
    return {fieldset, current};
  }

  // An image with an absolutely positioned layer on top; shapes are placed in percent of natural size.
  class ImageStage {
    constructor(src, alt, onReady) {
      this.image = taskImage(src, alt);
      this.layer = h('div', {class: 'a2i-stage-layer'});
      this.element = h('div', {class: 'a2i-stage'}, [this.image, this.layer]);
      const ready = () => onReady();
      if (this.image.complete && this.image.naturalWidth) queueMicrotask(ready);
      else this.image.addEventListener('load', ready);
      this.image.addEventListener('error', () => {
        this.element.after(h('p', {class: 'a2i-problem', role: 'alert', text: 'The image could not be loaded.'}));
      });
    }

    get ready() {
      return this.image.naturalWidth > 0;
    }

    size() {
      return {height: this.image.naturalHeight, width: this.image.naturalWidth};
    }

    pointFromEvent(event) {
      const rect = this.image.getBoundingClientRect();
      return {
        x: clamp((event.clientX - rect.left) / rect.width, 0, 1) * this.image.naturalWidth,
        y: clamp((event.clientY - rect.top) / rect.height, 0, 1) * this.image.naturalHeight,
      };
    }

    place(node, {left, top, width, height}) {
      const {width: naturalWidth, height: naturalHeight} = this.size();
      node.style.left = `${(100 * left) / naturalWidth}%`;
      node.style.top = `${(100 * top) / naturalHeight}%`;
      if (width !== undefined) node.style.width = `${(100 * width) / naturalWidth}%`;
      if (height !== undefined) node.style.height = `${(100 * height) / naturalHeight}%`;
    }
  }

  function deleteButton(description, onDelete) {
    return h('button', {
      type: 'button', class: 'a2i-delete', 'aria-label': `Delete ${description}`, title: `Delete ${description}`,
      text: '×', onpointerdown: (event) => event.stopPropagation(), onclick: onDelete,
    });
  }

  function readBox(item) {
    const box = {
      label: textOf(pick(item, 'label')),
      left: Number(pick(item, 'left')), top: Number(pick(item, 'top')),
      width: Number(pick(item, 'width')), height: Number(pick(item, 'height')),
    };
    return ['left', 'top', 'width', 'height'].every((key) => Number.isFinite(box[key])) ? box : null;
  }

  class CrowdBoundingBox extends CrowdElement {
    render(children) {
      const {instructions} = splitInstructions(children);
      this.boxes = listAttr(this, 'initial-value').map(readBox).filter(Boolean);
      this.chooser = labelChooser(listAttr(this, 'labels').map(textOf), 'Label for new boxes');
      this.stage = new ImageStage(this.getAttribute('src'), this.getAttribute('header') || 'Image to annotate',
        () => this.update());
      this.output = hiddenInput(fieldName(this));
      this.summary = h('p', {class: 'a2i-hint', 'aria-live': 'polite'});
      this.stage.layer.addEventListener('pointerdown', (event) => this.startDrawing(event));
      const hint = h('p', {class: 'a2i-hint', text: 'Choose a label, then drag on the image to draw a box.'});
      this.append(taskFrame(this, instructions, [this.chooser.fieldset, hint, this.stage.element, this.summary,
        this.output]));
      this.update();
    }

    startDrawing(event) {
      if (!this.stage.ready || event.button !== 0) return;
      event.preventDefault();
      const start = this.stage.pointFromEvent(event);
      const draft = h('div', {class: 'a2i-box a2i-draft'});
      this.stage.layer.append(draft);
      const rectangle = (moveEvent) => {
        const end = this.stage.pointFromEvent(moveEvent);
        return {
          left: Math.min(start.x, end.x), top: Math.min(start.y, end.y),
          width: Math.abs(end.x - start.x), height: Math.abs(end.y - start.y),
        };
      };
      const move = (moveEvent) => this.stage.place(draft, rectangle(moveEvent));
      const finish = (upEvent) => {
        window.removeEventListener('pointermove', move);
        window.removeEventListener('pointerup', finish);
        draft.remove();
        const box = rectangle(upEvent);
        const scale = this.stage.image.naturalWidth / this.stage.image.getBoundingClientRect().width;
        if (box.width < 3 * scale || box.height < 3 * scale) return; // a click, not a drag
        this.boxes.push({label: this.chooser.current(), ...box});
        this.update();
      };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', finish);
    }

    update() {
      const boxes = this.boxes.map((box) => ({
        height: Math.round(box.height), label: box.label, left: Math.round(box.left),
        top: Math.round(box.top), width: Math.round(box.width),
      }));
      this.output.value = JSON.stringify({boundingBoxes: boxes, inputImageProperties: this.stage.size()});
      this.summary.textContent = `${boxes.length} box${boxes.length === 1 ? '' : 'es'} drawn.`;
      if (!this.stage.ready) return;
      this.stage.layer.replaceChildren(...this.boxes.map((box, index) => this.boxNode(box, index)));
    }

    boxNode(box, index) {
      const description = `box ${index + 1} (${box.label})`;
      const node = h('div', {class: 'a2i-box'}, [
        h('span', {class: 'a2i-box-label', text: box.label}),
        deleteButton(description, () => {
          this.boxes.splice(index, 1);
          this.update();
        }),
      ]);
      this.stage.place(node, box);
      return node;
    }
  }

  class CrowdKeypoint extends CrowdElement {
    render(children) {
      const {instructions} = splitInstructions(children);
      this.points = listAttr(this, 'initial-value')
        .map((item) => ({label: textOf(pick(item, 'label')), x: Number(pick(item, 'x')), y: Number(pick(item, 'y'))}))
        .filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
      this.chooser = labelChooser(listAttr(this, 'keypoints').map(textOf), 'Label for new points');
      this.stage = new ImageStage(this.getAttribute('src'), this.getAttribute('header') || 'Image to annotate',
        () => this.update());
      this.output = hiddenInput(fieldName(this));
      this.summary = h('p', {class: 'a2i-hint', 'aria-live': 'polite'});
      this.stage.layer.addEventListener('click', (event) => this.placePoint(event));
      const hint = h('p', {class: 'a2i-hint', text: 'Choose a label, then click the image to place a point.'});
      this.append(taskFrame(this, instructions, [this.chooser.fieldset, hint, this.stage.element, this.summary,
        this.output]));
      this.update();
    }

    placePoint(event) {
      if (!this.stage.ready || event.target.closest('button')) return;
      const {x, y} = this.stage.pointFromEvent(event);
      this.points.push({label: this.chooser.current(), x, y});
      this.update();
    }

    update() {
      const keypoints = this.points.map((point) =>
        ({label: point.label, x: Math.round(point.x), y: Math.round(point.y)}));
      this.output.value = JSON.stringify({keypoints, inputImageProperties: this.stage.size()});
      this.summary.textContent = `${keypoints.length} point${keypoints.length === 1 ? '' : 's'} placed.`;
      if (!this.stage.ready) return;
      this.stage.layer.replaceChildren(...this.points.map((point, index) => {
        const node = h('div', {class: 'a2i-point'}, [
          h('span', {class: 'a2i-point-label', text: point.label}),
          deleteButton(`point ${index + 1} (${point.label})`, () => {
            this.points.splice(index, 1);
            this.update();
          }),
        ]);
        this.stage.place(node, {left: point.x, top: point.y});
        return node;
      }));
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Entity annotation. Offsets count Unicode characters (code points) of the text, as Python does, not the
  // UTF-16 units JavaScript strings use.

  function codePointOffset(text, utf16Offset) {
    return Array.from(text.slice(0, utf16Offset)).length;
  }

  function utf16Offset(text, codePoints) {
    return Array.from(text).slice(0, codePoints).join('').length;
  }

  function readEntityLabel(item) {
    if (typeof item !== 'object' || item === null) {
      return {label: textOf(item), short: textOf(item), full: textOf(item)};
    }
    const label = textOf(pick(item, 'label'));
    return {
      label,
      short: textOf(pick(item, 'shortDisplayName')) || label,
      full: textOf(pick(item, 'fullDisplayName')) || label,
    };
  }

  class CrowdEntityAnnotation extends CrowdElement {
    static submitsAlone = true;

    render(children) {
      const {instructions} = splitInstructions(children);
      this.sourceText = this.getAttribute('text') || '';
      this.textLength = Array.from(this.sourceText).length;
      this.labelOptions = listAttr(this, 'labels').map(readEntityLabel).filter((label) => label.label);
      this.entities = listAttr(this, 'initial-value')
        .map((item) => ({
          label: textOf(pick(item, 'label')),
          startOffset: Number(pick(item, 'startOffset')), endOffset: Number(pick(item, 'endOffset')),
        }))
        .filter((entity) => this.isValidSpan(entity.startOffset, entity.endOffset));
      this.textBox = h('div', {class: 'a2i-entity-text', role: 'document', 'aria-label': 'Text to annotate'});
      this.annotationList = h('ul', {class: 'a2i-entity-list', 'aria-label': 'Annotations'});
      this.status = h('p', {class: 'a2i-hint', 'aria-live': 'polite',
        text: 'Select words in the text with the mouse, then choose a label.'});
      this.output = hiddenInput(fieldName(this));
      const toolbar = h('div', {class: 'a2i-toolbar', role: 'group', 'aria-label': 'Entity labels'},
        this.labelOptions.map((label) => h('button', {
          type: 'button', class: 'a2i-button a2i-entity-label', text: label.full, title: label.label,
          onmousedown: (event) => event.preventDefault(), // keep the worker's text selection
          onclick: () => this.annotate(label.label),
        })));
      this.append(taskFrame(this, instructions, [toolbar, this.status, this.textBox,
        h('h3', {class: 'a2i-subheading', text: 'Annotations'}), this.annotationList, this.output]));
      this.update();
    }

    isValidSpan(start, end) {
      return Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= this.textLength;
    }

    // The selection as code-point offsets in the text, trimmed of surrounding whitespace; null if none.
    selectedSpan() {
      const selection = window.getSelection();
      if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
      const range = selection.getRangeAt(0);
      if (!range.intersectsNode(this.textBox)) return null;
      let start = this.textBox.contains(range.startContainer)
        ? this.offsetOf(range.startContainer, range.startOffset) : 0;
      let end = this.textBox.contains(range.endContainer)
        ? this.offsetOf(range.endContainer, range.endOffset) : this.sourceText.length;
      while (start < end && /\s/.test(this.sourceText.charAt(start))) start += 1;
      while (end > start && /\s/.test(this.sourceText.charAt(end - 1))) end -= 1;
      if (start >= end) return null;
      return {startOffset: codePointOffset(this.sourceText, start), endOffset: codePointOffset(this.sourceText, end)};
    }

    offsetOf(node, offset) {
      const range = document.createRange();
      range.setStart(this.textBox, 0);
      range.setEnd(node, offset);
      return range.toString().length; // labels are drawn by CSS (::after), so this is the text alone
    }

    annotate(label) {
      const span = this.selectedSpan();
      if (!span) {
        this.status.textContent = 'Select some text first, then choose a label.';
        return;
      }
      const overlapping = this.entities.some((entity) =>
        entity.startOffset < span.endOffset && span.startOffset < entity.endOffset);
      if (overlapping) {
        this.status.textContent = 'That text overlaps an annotation: delete it first.';
        return;
      }
      this.entities.push({label, ...span});
      window.getSelection().removeAllRanges();
      this.status.textContent = `Annotated “${this.excerpt(span)}” as ${this.displayName(label)}.`;
      this.update();
    }

    excerpt(entity) {
      return Array.from(this.sourceText).slice(entity.startOffset, entity.endOffset).join('');
    }

    displayName(label) {
      const known = this.labelOptions.find((item) => item.label === label);
      return known ? known.full : label;
    }

    update() {
      this.entities.sort((a, b) => a.startOffset - b.startOffset);
      this.output.value = JSON.stringify({entities: this.entities.map(({label, startOffset, endOffset}) =>
        ({label, startOffset, endOffset}))});
      this.paintText();
      this.annotationList.replaceChildren(...this.entities.map((entity, index) => h('li', {}, [
        h('span', {class: 'a2i-chip', text: this.displayName(entity.label)}), ` “${this.excerpt(entity)}” `,
        h('button', {
          type: 'button', class: 'a2i-link', text: 'Delete',
          'aria-label': `Delete ${this.displayName(entity.label)}: ${this.excerpt(entity)}`,
          onclick: () => {
            this.entities.splice(index, 1);
            this.update();
          },
        }),
      ])));
      if (!this.entities.length) this.annotationList.append(h('li', {class: 'a2i-hint', text: 'No annotations yet.'}));
    }

    paintText() {
      const pieces = [];
      let position = 0;
      for (const entity of this.entities) {
        const start = utf16Offset(this.sourceText, entity.startOffset);
        const end = utf16Offset(this.sourceText, entity.endOffset);
        if (start < position) continue; // overlapping initial values: the first one is shown
        pieces.push(this.sourceText.slice(position, start));
        const known = this.labelOptions.find((item) => item.label === entity.label);
        pieces.push(h('mark', {
          class: 'a2i-entity', 'data-label': known ? known.short : entity.label,
          title: this.displayName(entity.label), text: this.sourceText.slice(start, end),
        }));
        position = end;
      }
      pieces.push(this.sourceText.slice(position));
      this.textBox.replaceChildren(...pieces.filter((piece) => piece !== ''));
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Textract: correct the key-value pairs of an AnalyzeDocument response.

  const LOW_CONFIDENCE = 70;

  function relatedIds(block, type) {
    const relationships = pick(block, 'relationships') || [];
    return relationships
      .filter((relationship) => pick(relationship, 'type') === type)
      .flatMap((relationship) => pick(relationship, 'ids') || []);
  }

  function isKeyBlock(block) {
    return pick(block, 'blockType') === 'KEY_VALUE_SET' && (pick(block, 'entityTypes') || []).includes('KEY');
  }

  function textractRows(blocks) {
    const byId = new Map(blocks.map((block) => [pick(block, 'id'), block]));
    const childText = (block) => relatedIds(block, 'CHILD')
      .map((id) => byId.get(id))
      .filter(Boolean)
      .map((child) => (pick(child, 'blockType') === 'SELECTION_ELEMENT'
        ? textOf(pick(child, 'selectionStatus')) : textOf(pick(child, 'text'))))
      .filter((text) => text !== '')
      .join(' ');
    return blocks.filter(isKeyBlock).map((key) => {
      const values = relatedIds(key, 'VALUE').map((id) => byId.get(id)).filter(Boolean);
      return {
        id: textOf(pick(key, 'id')),
        key: childText(key) || textOf(pick(key, 'text')),
        value: values.map(childText).filter((text) => text !== '').join(' '),
        keyConfidence: pick(key, 'confidence'),
        valueConfidence: values.length ? pick(values[0], 'confidence') : undefined,
        keyBox: pick(pick(key, 'geometry'), 'boundingBox'),
        valueBox: values.length ? pick(pick(values[0], 'geometry'), 'boundingBox') : undefined,
      };
    });
  }

  function normalizedKey(text) {
    return String(text).replace(/\s+/g, ' ').trim().replace(/:$/, '').trim().toLowerCase();
  }

  // The keys attribute: plain names, or importantFormKeys items {importantFormKey, importantFormKeyAliases}.
  function importantKeys(items) {
    return items.map((item) => {
      if (typeof item !== 'object' || item === null) return {name: textOf(item), names: [textOf(item)]};
      const name = textOf(pick(item, 'importantFormKey') ?? pick(item, 'key') ?? pick(item, 'name'));
      const aliases = pick(item, 'importantFormKeyAliases') || pick(item, 'aliases') || [];
      return {name, names: [name, ...aliases.map(textOf)]};
    }).filter((key) => key.name && key.name !== '*');
  }

  class CrowdTextractAnalyzeDocument extends CrowdElement {
    static submitsAlone = true;

    render(children) {
      const {instructions} = splitInstructions(children);
      const keyEditable = !this.hasAttribute('no-key-edit');
      const keys = importantKeys(listAttr(this, 'keys'));
      const rows = this.orderRows(textractRows(listAttr(this, 'initial-value')), keys);
      this.output = hiddenInput('__a2i_textract');
      this.rows = rows.map((row) => ({...row, keyEditable}));
      const stage = new ImageStage(this.getAttribute('src'), this.getAttribute('header') || 'Document', () => {});
      stage.image.addEventListener('error', () => stage.element.after(h('p', {}, [
        h('a', {href: safeUrl(this.getAttribute('src'), {allowDataImages: false}) || null, target: '_blank',
          rel: 'noopener', text: 'Open the document'}),
      ])));
      const table = h('table', {class: 'a2i-kv-table'}, [
        h('thead', {}, h('tr', {}, ['Key', 'Value', 'Key confidence', 'Value confidence']
          .map((text) => h('th', {scope: 'col', text})))),
        h('tbody', {}, this.rows.map((row) => this.rowNode(row, stage))),
      ]);
      const missing = keys.filter((key) => !rows.some((row) => row.important === key));
      const note = missing.length ? h('p', {class: 'a2i-hint',
        text: `Not found on this document: ${missing.map((key) => key.name).join(', ')}.`}) : null;
      const empty = this.rows.length ? null
        : h('p', {class: 'a2i-hint', text: 'There are no key-value pairs to review.'});
      this.append(taskFrame(this, instructions, [h('div', {class: 'a2i-document'}, [
        h('div', {class: 'a2i-document-image'}, stage.element),
        h('div', {class: 'a2i-document-pairs'}, [table, empty, note]),
      ]), this.output]));
      this.update();
    }

    // Rows for the important keys first, in the keys' order; the rest as Textract listed them.
    orderRows(rows, keys) {
      for (const row of rows) {
        row.important = keys.find((key) => key.names.some((name) => normalizedKey(name) === normalizedKey(row.key)));
      }
      const rank = (row) => (row.important ? keys.indexOf(row.important) : keys.length);
      return rows.map((row, index) => ({row, index}))
        .sort((a, b) => rank(a.row) - rank(b.row) || a.index - b.index)
        .map(({row}) => row);
    }

    rowNode(row, stage) {
      const keyCell = row.keyEditable
        ? h('input', {class: 'a2i-kv-key', value: row.key, 'aria-label': `Key ${row.key}`,
          oninput: (event) => { row.key = event.target.value; this.update(); }})
        : h('span', {class: 'a2i-kv-key', text: row.key});
      const valueInput = h('input', {class: 'a2i-kv-value', value: row.value, 'aria-label': `Value for ${row.key}`,
        oninput: (event) => { row.value = event.target.value; this.update(); }});
      const node = h('tr', {class: row.important ? 'a2i-important' : null}, [
        h('td', {}, [keyCell, row.important ? h('span', {class: 'a2i-chip', text: 'important'}) : null]),
        h('td', {}, valueInput),
        confidenceCell(row.keyConfidence), confidenceCell(row.valueConfidence),
      ]);
      this.addHighlights(node, row, stage, valueInput);
      return node;
    }

    // The pair's regions on the document, highlighted while its row is hovered or focused.
    addHighlights(node, row, stage, valueInput) {
      const regions = [[row.keyBox, 'a2i-region a2i-region-key'], [row.valueBox, 'a2i-region a2i-region-value']]
        .filter(([box]) => box && Number.isFinite(Number(pick(box, 'left'))))
        .map(([box, className]) => {
          const region = h('div', {class: className, title: row.key, onclick: () => valueInput.focus()});
          Object.assign(region.style, {
            left: `${100 * Number(pick(box, 'left'))}%`, top: `${100 * Number(pick(box, 'top'))}%`,
            width: `${100 * Number(pick(box, 'width'))}%`, height: `${100 * Number(pick(box, 'height'))}%`,
          });
          return region;
        });
      stage.layer.append(...regions);
      const toggle = (on) => () => {
        node.classList.toggle('a2i-active', on);
        for (const region of regions) region.classList.toggle('a2i-active', on);
      };
      node.addEventListener('mouseenter', toggle(true));
      node.addEventListener('mouseleave', toggle(false));
      node.addEventListener('focusin', toggle(true));
      node.addEventListener('focusout', toggle(false));
    }

    update() {
      this.output.value = JSON.stringify(this.rows.map((row) => (row.keyEditable
        ? {keyBlockId: row.id, value: row.value, key: row.key}
        : {keyBlockId: row.id, value: row.value})));
    }
  }

  function confidenceCell(confidence) {
    const value = Number(confidence);
    if (confidence === undefined || confidence === null || !Number.isFinite(value)) return h('td', {text: '—'});
    const low = value < LOW_CONFIDENCE;
    return h('td', {class: low ? 'a2i-confidence a2i-low' : 'a2i-confidence'}, [
      percent(value), low ? h('span', {class: 'a2i-flag', text: ' low'}) : null,
    ]);
  }

  // ---------------------------------------------------------------------------------------------------
  // Rekognition: which of the uncertain moderation labels the image shows.

  function readModerationCategory(item) {
    if (typeof item !== 'object' || item === null) return {name: textOf(item), parentName: ''};
    return {
      name: textOf(pick(item, 'name')),
      parentName: textOf(pick(item, 'parentName')),
      confidence: pick(item, 'confidence'),
    };
  }

  class CrowdRekognitionDetectModerationLabels extends CrowdElement {
    static submitsAlone = true;

    render(children) {
      const {instructions} = splitInstructions(children);
      const categories = listAttr(this, 'categories').map(readModerationCategory).filter((item) => item.name);
      const boxes = [];
      const fieldset = h('fieldset', {class: 'a2i-choices'}, [h('legend', {text: 'Categories the image shows'})]);
      for (const category of categories) {
        const input = h('input', {type: 'checkbox', name: '__a2i_moderation', value: category.name});
        boxes.push(input);
        const details = [category.parentName ? `in ${category.parentName}` : '',
          Number.isFinite(Number(category.confidence)) && category.confidence !== undefined
            ? `machine confidence ${percent(Number(category.confidence))}` : ''].filter(Boolean).join(', ');
        fieldset.append(h('label', {class: 'a2i-choice'}, [input, h('span', {text: category.name}),
          details ? h('span', {class: 'a2i-parent', text: ` (${details})`}) : null]));
      }
      const none = h('input', {type: 'checkbox', name: '__a2i_moderation_none', value: 'on'});
      fieldset.append(h('label', {class: 'a2i-choice a2i-exclusive'},
        [none, h('span', {text: 'None of these apply'})]));
      makeExclusive(none, [...boxes, none]);
      requireOneChecked([...boxes, none], 'Choose the categories the image shows, or None of these apply.');
      const image = taskImage(this.getAttribute('src'), this.getAttribute('header') || 'Image to review');
      this.append(taskFrame(this, instructions, [h('div', {class: 'a2i-image-box'}, image), fieldset]));
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Display elements.

  const ICONS = {
    add: '+', close: '×', clear: '×', cancel: '×', delete: '✕', remove: '−', check: '✓', done: '✓',
    search: '⌕', info: 'i', help: '?', edit: '✎', 'arrow-back': '←', 'arrow-forward': '→', menu: '☰',
    'zoom-in': '+', 'zoom-out': '−', refresh: '↻', undo: '↶', redo: '↷', star: '★', warning: '!',
  };

  function iconGlyph(name) {
    return ICONS[name] || '•';
  }

  class CrowdButton extends CrowdElement {
    render(children) {
      const variant = this.getAttribute('variant') || 'normal';
      const href = safeUrl(this.getAttribute('href'), {allowDataImages: false});
      const icon = this.getAttribute('icon');
      const content = [icon ? h('span', {class: 'a2i-icon', 'aria-hidden': 'true', text: iconGlyph(icon)}) : null,
        ...children];
      const className = `a2i-button a2i-${variant === 'primary' ? 'primary' : variant === 'link' ? 'link' : 'normal'}`;
      if (href) {
        this.append(h('a', {class: className, href, target: this.getAttribute('target') || null, rel: 'noopener'},
          content));
        return;
      }
      const button = h('button', {type: 'button', class: className, disabled: this.hasAttribute('disabled')}, content);
      if (!button.textContent.trim() && icon) button.setAttribute('aria-label', icon);
      if (this.getAttribute('form-action') === 'submit') {
        button.addEventListener('click', () => requestSubmitFrom(this));
      }
      this.append(button);
    }
  }

  class CrowdAlert extends CrowdElement {
    render(children) {
      const type = ['success', 'info', 'warning', 'error'].includes(this.getAttribute('type'))
        ? this.getAttribute('type') : 'info';
      const alert = h('div', {class: `a2i-alert a2i-alert-${type}`, role: type === 'error' || type === 'warning'
        ? 'alert' : 'status'}, h('div', {class: 'a2i-alert-body'}, children));
      if (this.hasAttribute('dismissible')) {
        alert.append(h('button', {type: 'button', class: 'a2i-icon-button', 'aria-label': 'Dismiss', text: '×',
          onclick: () => { this.hidden = true; }}));
      }
      this.append(alert);
    }
  }

  class CrowdBadge extends CrowdElement {
    render(children) {
      const icon = this.getAttribute('icon');
      const label = this.getAttribute('label');
      this.append(h('span', {class: 'a2i-badge'}, [
        icon ? h('span', {class: 'a2i-icon', 'aria-hidden': 'true', text: iconGlyph(icon)}) : null,
        label !== null ? label : null, ...children,
      ]));
    }
  }

  class CrowdCard extends CrowdElement {
    render(children) {
      const heading = this.getAttribute('heading');
      const imageUrl = safeUrl(this.getAttribute('image'));
      this.append(h('article', {class: 'a2i-card', 'aria-label': heading || null}, [
        imageUrl ? h('img', {class: 'a2i-card-image', src: imageUrl, alt: heading || ''}) : null,
        heading ? h('h3', {class: 'a2i-card-heading', text: heading}) : null,
        h('div', {class: 'a2i-card-content'}, children),
      ]));
    }
  }

  class CrowdFab extends CrowdElement {
    render(children) {
      const label = this.getAttribute('label');
      const icon = this.getAttribute('icon') || 'add';
      const name = this.getAttribute('title') || label || icon;
      this.append(h('button', {type: 'button', class: 'a2i-fab', 'aria-label': name, title: name,
        disabled: this.hasAttribute('disabled')}, label || hasVisibleContent(children) ? [label, ...children]
        : h('span', {'aria-hidden': 'true', text: iconGlyph(icon)})));
    }
  }

  class CrowdIconButton extends CrowdElement {
    render() {
      const icon = this.getAttribute('icon') || '';
      const name = this.getAttribute('title') || this.getAttribute('aria-label') || icon || 'button';
      this.removeAttribute('aria-label');
      this.append(h('button', {type: 'button', class: 'a2i-icon-button', 'aria-label': name, title: name,
        disabled: this.hasAttribute('disabled')}, h('span', {'aria-hidden': 'true', text: iconGlyph(icon)})));
    }
  }

  const INSTRUCTION_PARTS = [
    ['short-summary', 'Summary'], ['detailed-instructions', 'Detailed instructions'],
    ['positive-example', 'Good example'], ['negative-example', 'Bad example'],
  ];

  class CrowdInstructions extends CrowdElement {
    render(children) {
      const details = h('details', {class: 'a2i-crowd-instructions', open: true},
        h('summary', {text: this.getAttribute('link-text') || 'Instructions'}));
      for (const [tag, title] of INSTRUCTION_PARTS) {
        for (const part of children.filter((node) => node.localName === tag)) {
          details.append(h('section', {class: `a2i-instructions-part a2i-${tag}`}, [h('h3', {text: title}), part]));
        }
      }
      const known = new Set(INSTRUCTION_PARTS.map(([tag]) => tag));
      details.append(...children.filter((node) => !known.has(node.localName)));
      this.append(details);
    }
  }

  class CrowdModal extends CrowdElement {
    render(children) {
      const linkText = this.getAttribute('link-text') || 'Open';
      const dialog = h('dialog', {class: 'a2i-modal', 'aria-label': linkText}, [
        h('div', {class: 'a2i-modal-body'}, children),
        h('div', {class: 'a2i-modal-actions'}, h('button', {type: 'button', class: 'a2i-button a2i-normal',
          text: 'Close', onclick: () => dialog.close()})),
      ]);
      const trigger = h('button', {
        type: 'button', class: this.getAttribute('link-type') === 'button' ? 'a2i-button a2i-normal' : 'a2i-link',
        text: linkText, onclick: () => dialog.showModal(),
      });
      this.append(trigger, dialog);
    }
  }

  class CrowdTab extends HTMLElement {}

  class CrowdTabs extends CrowdElement {
    render(children) {
      const tabs = children.filter((node) => node.localName === 'crowd-tab');
      const tablist = h('div', {class: 'a2i-tablist', role: 'tablist'});
      const buttons = tabs.map((panel, index) => {
        panel.id = panel.id || uid('tab-panel');
        panel.setAttribute('role', 'tabpanel');
        const button = h('button', {type: 'button', role: 'tab', id: uid('tab'), class: 'a2i-tab',
          'aria-controls': panel.id, text: panel.getAttribute('header') || `Tab ${index + 1}`});
        panel.setAttribute('aria-labelledby', button.id);
        return button;
      });
      const select = (chosen) => tabs.forEach((panel, index) => {
        const selected = index === chosen;
        buttons[index].setAttribute('aria-selected', String(selected));
        buttons[index].tabIndex = selected ? 0 : -1;
        panel.hidden = !selected;
      });
      buttons.forEach((button, index) => {
        button.addEventListener('click', () => select(index));
        button.addEventListener('keydown', (event) => {
          const step = {ArrowRight: 1, ArrowLeft: -1}[event.key];
          if (!step) return;
          const next = (index + step + buttons.length) % buttons.length;
          select(next);
          buttons[next].focus();
        });
      });
      tablist.append(...buttons);
      this.append(tablist, ...children);
      if (tabs.length) select(0);
    }
  }

  class CrowdToast extends CrowdElement {
    render(children) {
      this.box = h('div', {class: 'a2i-toast', role: 'status'}, [this.getAttribute('text'), ...children]);
      this.box.hidden = !this.hasAttribute('opened');
      this.append(this.box);
      if (!this.box.hidden) this.scheduleClose();
    }

    open() {
      this.box.hidden = false;
      this.scheduleClose();
    }

    show() {
      this.open();
    }

    close() {
      this.box.hidden = true;
    }

    toggle() {
      if (this.box.hidden) this.open();
      else this.close();
    }

    get opened() {
      return Boolean(this.box && !this.box.hidden);
    }

    scheduleClose() {
      clearTimeout(this.timer);
      const duration = numberAttr(this, 'duration', 3000);
      if (duration > 0) this.timer = setTimeout(() => this.close(), duration);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Registration. crowd-form comes first so the forms exist when the task elements look for them.

  const ELEMENTS = [
    ['crowd-form', CrowdForm],
    ['crowd-classifier', CrowdClassifier],
    ['crowd-classifier-multi-select', CrowdClassifierMultiSelect],
    ['crowd-image-classifier', CrowdImageClassifier],
    ['crowd-image-classifier-multi-select', CrowdImageClassifierMultiSelect],
    ['crowd-input', CrowdInput],
    ['crowd-text-area', CrowdTextArea],
    ['crowd-checkbox', CrowdCheckbox],
    ['crowd-toggle-button', CrowdToggleButton],
    ['crowd-radio-group', CrowdRadioGroup],
    ['crowd-radio-button', CrowdRadioButton],
    ['crowd-slider', CrowdSlider],
    ['crowd-bounding-box', CrowdBoundingBox],
    ['crowd-keypoint', CrowdKeypoint],
    ['crowd-entity-annotation', CrowdEntityAnnotation],
    ['crowd-textract-analyze-document', CrowdTextractAnalyzeDocument],
    ['crowd-rekognition-detect-moderation-labels', CrowdRekognitionDetectModerationLabels],
    ['crowd-button', CrowdButton],
    ['crowd-alert', CrowdAlert],
    ['crowd-badge', CrowdBadge],
    ['crowd-card', CrowdCard],
    ['crowd-fab', CrowdFab],
    ['crowd-icon-button', CrowdIconButton],
    ['crowd-instructions', CrowdInstructions],
    ['crowd-modal', CrowdModal],
    ['crowd-tab', CrowdTab],
    ['crowd-tabs', CrowdTabs],
    ['crowd-toast', CrowdToast],
  ];

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
})();
