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
      const {instructions, rest} = splitInstructions(children);
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
      // The template's other children (further questions) are shown and posted with the annotations: a control
      // the worker never saw must not put a value in the answer.
      const extra = hasVisibleContent(rest) ? h('div', {class: 'a2i-entity-extra'}, rest) : null;
      this.append(taskFrame(this, instructions, [toolbar, this.status, this.textBox,
        h('h3', {class: 'a2i-subheading', text: 'Annotations'}), this.annotationList, extra, this.output]));
      this.update();
    }

    // What the element submits, as templates read it (element.value).
    get value() {
      return {entities: (this.entities || []).map(({label, startOffset, endOffset}) => ({label, startOffset, endOffset}))};
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
      this.output.value = JSON.stringify(this.value);
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

  ELEMENTS.push(['crowd-entity-annotation', CrowdEntityAnnotation]);
