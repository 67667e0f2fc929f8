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

  ELEMENTS.push(['crowd-classifier', CrowdClassifier]);
  ELEMENTS.push(['crowd-classifier-multi-select', CrowdClassifierMultiSelect]);
  ELEMENTS.push(['crowd-image-classifier', CrowdImageClassifier]);
  ELEMENTS.push(['crowd-image-classifier-multi-select', CrowdImageClassifierMultiSelect]);
  ELEMENTS.push(['crowd-input', CrowdInput]);
  ELEMENTS.push(['crowd-text-area', CrowdTextArea]);
  ELEMENTS.push(['crowd-checkbox', CrowdCheckbox]);
  ELEMENTS.push(['crowd-toggle-button', CrowdToggleButton]);
  ELEMENTS.push(['crowd-radio-group', CrowdRadioGroup]);
  ELEMENTS.push(['crowd-radio-button', CrowdRadioButton]);
  ELEMENTS.push(['crowd-slider', CrowdSlider]);
