  // ---------------------------------------------------------------------------------------------------
  // Textract: correct the key-value pairs of an AnalyzeDocument response, and add the keys it missed.
  //
  // The selected pair (clicked, or holding the focus) has its key's and its value's boxes drawn on the
  // document; ArrowDown and ArrowUp move to the next and the previous pair. A missing important key gets
  // a row of its own, and "Add a key-value pair" adds any other: an added pair is posted as {key, value}
  // once it has a value (the server gives it new blocks, as A2I does).

  const LOW_CONFIDENCE = 70;
  const TEXTRACT_NEXT_KEY = 'ArrowDown';
  const TEXTRACT_PREVIOUS_KEY = 'ArrowUp';

  function relatedIds(block, type) {
    const relationships = pick(block, 'relationships') || [];
    return relationships
      .filter((relationship) => pick(relationship, 'type') === type)
      .flatMap((relationship) => pick(relationship, 'ids') || []);
  }

  function isKeyBlock(block) {
    return pick(block, 'blockType') === 'KEY_VALUE_SET' && (pick(block, 'entityTypes') || []).includes('KEY');
  }

  // A block's box on the page, in fractions of its size: the BoundingBox, or the bounds of the Polygon
  // (the blocks A2I selects for review may carry only the polygon).
  function textractBox(block) {
    const geometry = pick(block, 'geometry');
    const box = pick(geometry, 'boundingBox');
    if (box) {
      const read = {left: Number(pick(box, 'left')), top: Number(pick(box, 'top')),
        width: Number(pick(box, 'width')), height: Number(pick(box, 'height'))};
      if (Object.values(read).every(Number.isFinite)) return read;
    }
    const polygon = pick(geometry, 'polygon');
    if (!Array.isArray(polygon) || !polygon.length) return null;
    const xs = polygon.map((point) => Number(pick(point, 'x')));
    const ys = polygon.map((point) => Number(pick(point, 'y')));
    if (![...xs, ...ys].every(Number.isFinite)) return null;
    const [left, top] = [Math.min(...xs), Math.min(...ys)];
    return {left, top, width: Math.max(...xs) - left, height: Math.max(...ys) - top};
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
        kind: 'found',
        id: textOf(pick(key, 'id')),
        key: childText(key) || textOf(pick(key, 'text')),
        value: values.map(childText).filter((text) => text !== '').join(' '),
        keyConfidence: pick(key, 'confidence'),
        valueConfidence: values.length ? pick(values[0], 'confidence') : undefined,
        keyBox: textractBox(key),
        valueBox: values.length ? textractBox(values[0]) : null,
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

  function isAddedPair(row) {
    return row.kind !== 'found';
  }

  class CrowdTextractAnalyzeDocument extends CrowdElement {
    static submitsAlone = true;

    render(children) {
      const {instructions} = splitInstructions(children);
      const keys = importantKeys(listAttr(this, 'keys'));
      const found = textractRows(listAttr(this, 'initial-value'));
      const keyEditable = !this.hasAttribute('no-key-edit');
      for (const row of found) row.keyEditable = keyEditable;
      this.rows = this.orderRows(found, keys);
      this.selected = -1;
      this.addedCount = 0;
      this.output = hiddenInput('__a2i_textract');
      this.stage = new ImageStage(this.getAttribute('src'), this.getAttribute('header') || 'Document', () => {});
      this.stage.image.addEventListener('error', () => this.stage.element.after(h('p', {}, [
        h('a', {href: safeUrl(this.getAttribute('src'), {allowDataImages: false}) || null, target: '_blank',
          rel: 'noopener', text: 'Open the document'}),
      ])));
      this.tbody = h('tbody', {onkeydown: (event) => this.onKeyDown(event)});
      for (const row of this.rows) this.tbody.append(this.rowNode(row));
      const table = h('table', {class: 'a2i-kv-table', 'aria-keyshortcuts': `${TEXTRACT_NEXT_KEY} ${TEXTRACT_PREVIOUS_KEY}`}, [
        h('thead', {}, h('tr', {}, ['Key', 'Value', 'Key confidence', 'Value confidence']
          .map((text) => h('th', {scope: 'col', text})))),
        this.tbody,
      ]);
      const missing = this.rows.filter((row) => row.kind === 'missing');
      const note = missing.length ? h('p', {class: 'a2i-hint a2i-kv-missing-note',
        text: `The machine did not find ${missing.map((row) => `“${row.key}”`).join(', ')}. `
          + 'If the document shows it, type its value in its row.'}) : null;
      const empty = found.length ? null
        : h('p', {class: 'a2i-hint', text: 'There are no key-value pairs to review.'});
      const add = h('button', {type: 'button', class: 'a2i-button a2i-kv-add', text: 'Add a key-value pair',
        onclick: () => this.addPair()});
      const keysHint = h('p', {class: 'a2i-hint a2i-kv-keys'}, [
        'Choose a pair to outline it on the document; ', h('kbd', {text: '↓'}), ' and ', h('kbd', {text: '↑'}),
        ' move to the next and the previous pair. An added pair is kept once it has a value.']);
      this.append(taskFrame(this, instructions, [h('div', {class: 'a2i-document'}, [
        h('div', {class: 'a2i-document-image'}, this.stage.element),
        h('div', {class: 'a2i-document-pairs'}, [note, table, empty, h('div', {class: 'a2i-kv-actions'}, add),
          keysHint]),
      ]), this.output]));
      this.update();
    }

    // Rows for the important keys first, in the keys' order (a key Textract did not find gets an empty row
    // to add it); the rest as Textract listed them.
    orderRows(rows, keys) {
      for (const row of rows) {
        row.important = keys.find((key) => key.names.some((name) => normalizedKey(name) === normalizedKey(row.key)));
      }
      const missing = keys.filter((key) => !rows.some((row) => row.important === key))
        .map((key) => ({kind: 'missing', key: key.name, value: '', important: key, keyEditable: true}));
      const rank = (row) => (row.important ? keys.indexOf(row.important) : keys.length);
      return [...rows, ...missing].map((row, index) => ({row, index}))
        .sort((a, b) => rank(a.row) - rank(b.row) || a.index - b.index)
        .map(({row}) => row);
    }

    rowNode(row) {
      const label = row.kind === 'new' ? `added pair ${row.number}` : row.key;
      const keyCell = row.keyEditable
        ? h('input', {class: 'a2i-kv-key', value: row.key,
          'aria-label': row.kind === 'new' ? `Key of ${label}` : `Key ${label}`,
          oninput: (event) => { row.key = event.target.value; this.update(); }})
        : h('span', {class: 'a2i-kv-key', text: row.key});
      row.valueInput = h('input', {class: 'a2i-kv-value', value: row.value,
        'aria-label': row.kind === 'new' ? `Value of ${label}` : `Value for ${label}`,
        oninput: (event) => { row.value = event.target.value; this.update(); }});
      row.keyInput = row.keyEditable ? keyCell : null;
      const chip = {found: row.important ? 'important' : null, missing: 'not found', new: 'added'}[row.kind];
      row.node = h('tr', {class: [row.important ? 'a2i-important' : '', isAddedPair(row) ? `a2i-kv-${row.kind}` : '']
        .filter(Boolean).join(' ') || null}, [
        h('td', {}, [keyCell, chip ? h('span', {class: 'a2i-chip', text: chip}) : null]),
        h('td', {class: 'a2i-kv-value-cell'}, [row.valueInput, row.kind === 'new' ? h('button', {type: 'button',
          class: 'a2i-kv-remove', 'aria-label': `Remove ${label}`, title: `Remove ${label}`, text: '×',
          onclick: () => this.removePair(row)}) : null]),
        confidenceCell(row.keyConfidence), confidenceCell(row.valueConfidence),
      ]);
      row.regions = this.regions(row);
      row.node.addEventListener('focusin', () => this.select(row));
      row.node.addEventListener('click', () => this.select(row));
      const hover = (on) => () => {
        for (const node of [row.node, ...row.regions]) node.classList.toggle('a2i-active', on);
      };
      row.node.addEventListener('mouseenter', hover(true));
      row.node.addEventListener('mouseleave', hover(false));
      return row.node;
    }

    // The pair's key and value boxes on the document: outlined while the pair is selected or hovered.
    regions(row) {
      const regions = [[row.keyBox, 'key'], [row.valueBox, 'value']].filter(([box]) => box).map(([box, part]) => {
        const region = h('div', {class: `a2i-region a2i-region-${part}`, title: `${row.key} (${part})`,
          'data-part': part, onclick: () => row.valueInput.focus()});
        Object.assign(region.style, {left: `${100 * box.left}%`, top: `${100 * box.top}%`,
          width: `${100 * box.width}%`, height: `${100 * box.height}%`});
        return region;
      });
      this.stage.layer.append(...regions);
      return regions;
    }

    select(row) {
      const index = this.rows.indexOf(row);
      if (index === this.selected || index < 0) return;
      const previous = this.rows[this.selected];
      if (previous) this.mark(previous, false);
      this.selected = index;
      this.mark(row, true);
    }

    mark(row, on) {
      row.node.classList.toggle('a2i-selected', on);
      if (on) row.node.setAttribute('aria-current', 'true');
      else row.node.removeAttribute('aria-current');
      for (const region of row.regions) region.classList.toggle('a2i-selected', on);
    }

    onKeyDown(event) {
      if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const step = {[TEXTRACT_NEXT_KEY]: 1, [TEXTRACT_PREVIOUS_KEY]: -1}[event.key];
      if (!step || !this.rows.length) return;
      event.preventDefault(); // a one-line input would move its caret to the start or the end
      const next = this.rows[clamp(this.selected + step, 0, this.rows.length - 1)];
      next.valueInput.focus();
      this.select(next);
    }

    addPair() {
      this.addedCount += 1;
      const row = {kind: 'new', number: this.addedCount, key: '', value: '', keyEditable: true, regions: []};
      this.rows.push(row);
      this.tbody.append(this.rowNode(row));
      row.keyInput.focus();
      this.update();
    }

    removePair(row) {
      const index = this.rows.indexOf(row);
      if (this.selected === index) this.selected = -1;
      else if (this.selected > index) this.selected -= 1;
      this.rows.splice(index, 1);
      row.node.remove();
      this.update();
    }

    update() {
      const posted = [];
      for (const row of this.rows) {
        if (row.keyInput) {
          const lacksKey = isAddedPair(row) && row.value.trim() !== '' && row.key.trim() === '';
          row.keyInput.setCustomValidity(lacksKey ? 'Type the key of this pair, or empty its value.' : '');
        }
        if (row.kind === 'found') {
          posted.push(row.keyEditable ? {keyBlockId: row.id, value: row.value, key: row.key}
            : {keyBlockId: row.id, value: row.value});
        } else if (row.value.trim() !== '' && row.key.trim() !== '') {
          posted.push({key: row.key, value: row.value});
        }
      }
      this.output.value = JSON.stringify(posted);
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

  ELEMENTS.push(['crowd-textract-analyze-document', CrowdTextractAnalyzeDocument]);
