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

  ELEMENTS.push(['crowd-textract-analyze-document', CrowdTextractAnalyzeDocument]);
  ELEMENTS.push(['crowd-rekognition-detect-moderation-labels', CrowdRekognitionDetectModerationLabels]);
