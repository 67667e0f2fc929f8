  // ---------------------------------------------------------------------------------------------------
  // Image annotation: what every drawing element shares (the image stage, the label chooser, the list of
  // shapes, the JavaScript API templates script against), then bounding boxes and keypoints. Coordinates are
  // kept in the image's natural pixels. 21-polygon.js and 22-segmentation.js add the other drawing elements.

  // The colours AWS's tools give labels (d3's category10), then evenly spread hues.
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
    '#bcbd22', '#17becf'];

  function paletteColor(index) {
    if (index < PALETTE.length) return PALETTE[index];
    const hue = ((index - PALETTE.length) * 137.508) % 360; // the golden angle: neighbours stay apart
    const light = 0.45 + 0.1 * (Math.floor((index - PALETTE.length) / 36) % 3);
    const chroma = (1 - Math.abs(2 * light - 1)) * 0.75;
    const part = chroma * (1 - Math.abs(((hue / 60) % 2) - 1));
    const [r, g, b] = [[chroma, part, 0], [part, chroma, 0], [0, chroma, part], [0, part, chroma],
      [part, 0, chroma], [chroma, 0, part]][Math.floor(hue / 60) % 6];
    const base = light - chroma / 2;
    return `#${[r, g, b].map((value) => Math.round((value + base) * 255).toString(16).padStart(2, '0')).join('')}`;
  }

  // Label strings from what a template or script gives: strings, or objects with a label; no repeats.
  function labelList(values) {
    const labels = [];
    for (const value of [].concat(values === null || values === undefined ? [] : values)) {
      const label = textOf(value);
      if (!labels.includes(label)) labels.push(label);
    }
    return labels;
  }

  // The radios that choose the label of what is drawn next; re-rendered when a script sets new labels.
  class LabelChooser {
    constructor(legend, {swatches = true} = {}) {
      this.legend = legend;
      this.withSwatches = swatches;
      this.name = uid('label-choice');
      this.fieldset = h('fieldset', {class: 'a2i-choices a2i-label-chooser'});
      this.inputs = [];
    }

    setLabels(labels) {
      const previous = this.current();
      this.inputs = labels.map((label) => h('input', {type: 'radio', name: this.name, value: label}));
      // Not form data: the chosen label only tags what the worker draws next. A form attribute naming no form
      // (a2i-not-submitted) takes the radios out of the task's form while they still work as one radio group.
      for (const input of this.inputs) input.setAttribute('form', 'a2i-not-submitted');
      const chosen = this.inputs.find((input) => input.value === previous) || this.inputs[0];
      if (chosen) chosen.checked = true;
      this.swatches = new Map(this.withSwatches
        ? labels.map((label) => [label, h('span', {class: 'a2i-swatch', 'aria-hidden': 'true'})]) : []);
      this.fieldset.replaceChildren(h('legend', {text: this.legend}), ...this.inputs.map((input) =>
        h('label', {class: 'a2i-choice'}, [input, this.swatches.get(input.value), h('span', {text: input.value})])));
      if (!labels.length) this.fieldset.append(h('span', {class: 'a2i-hint', text: 'No labels yet.'}));
    }

    // Each label's colour beside it: what it looks like on the image.
    paint(colorOf) {
      for (const [label, swatch] of this.swatches || []) swatch.style.background = colorOf(label);
    }

    current() {
      const checked = this.inputs.find((input) => input.checked);
      return checked ? checked.value : null;
    }
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

    // Natural pixels per displayed pixel.
    scale() {
      return this.image.naturalWidth / (this.image.getBoundingClientRect().width || 1);
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

  // The shapes drawn so far, one row each: select it, change its label, delete it (mouse or keyboard).
  class ShapeList {
    constructor(annotator) {
      this.annotator = annotator;
      this.element = h('ol', {class: 'a2i-shape-list', 'aria-label': 'Drawn shapes'});
    }

    render(items, labels, selected) {
      this.element.replaceChildren(...items.map((item, index) => {
        const description = this.annotator.describe(item, index);
        const choices = labels.includes(item.label) ? labels : [item.label, ...labels];
        const select = h('select', {'aria-label': `Label of ${description}`, form: 'a2i-not-submitted',
          onchange: () => this.annotator.relabel(index, select.value)},
        choices.map((label) => h('option', {value: label, text: label})));
        select.value = item.label;
        const swatch = h('span', {class: 'a2i-swatch', 'aria-hidden': 'true'});
        swatch.style.background = this.annotator.shapeColor(item);
        const row = h('li', {class: index === selected ? 'a2i-shape-row a2i-selected' : 'a2i-shape-row'}, [
          swatch,
          h('button', {type: 'button', class: 'a2i-button a2i-link', text: description,
            'aria-pressed': String(index === selected), onclick: () => this.annotator.select(index)}),
          select,
          h('button', {type: 'button', class: 'a2i-button', text: 'Delete', 'aria-label': `Delete ${description}`,
            onclick: () => this.annotator.remove(index)}),
        ]);
        return row;
      }));
    }
  }

  /*
   * The base of the drawing elements. Subclasses keep `this.shapes` ({label, ...} in natural pixels) and
   * implement readInitial(value), answerOf(shapes), drawLayer() and the drawing gestures. The JavaScript API
   * the AWS sample templates script against: `labels` (get and set: the chooser and list follow), `value` and
   * `_submittableValue` (the current answer), `initialValue` (get and set), and the document's
   * `all-crowd-elements-ready` event (90-register.js).
   */
  class ImageAnnotator extends CrowdElement {
    // AWS documents initialValueModified in the answer of the elements that can start from an initial value
    // (not crowd-keypoint's, nor crowd-instance-segmentation's, which has no initial-value).
    static reportsModified = true;
    // Whether the label chooser shows each label's colour (not where each instance has a colour of its own).
    static labelSwatches = true;

    // Properties a script set before the element rendered: on the plain element before it was defined (an own
    // property that hides the class's), or on the defined element before it was attached. Applied once rendered.
    connectedCallback() {
      this.early = this.early || {};
      for (const property of ['labels', 'initialValue']) {
        if (Object.hasOwn(this, property)) {
          this.early[property] = this[property];
          delete this[property];
        }
      }
      super.connectedCallback();
      const early = this.early;
      this.early = {};
      for (const [property, value] of Object.entries(early)) this[property] = value;
    }

    render(children) {
      const {instructions} = splitInstructions(children);
      this.labelNames = labelList(listAttr(this, 'labels'));
      this.chooser = new LabelChooser(this.constructor.chooserLegend, {swatches: this.constructor.labelSwatches});
      this.chooser.setLabels(this.labelNames);
      this.colors = new Map();
      this.labelNames.forEach((label) => this.colorOf(label));
      for (const [index, color] of listAttr(this, 'label-colors').entries()) {
        if (index < this.labelNames.length && /^#[\da-f]{6}$/i.test(textOf(color))) {
          this.colors.set(this.labelNames[index], textOf(color).toLowerCase());
        }
      }
      this.shapes = [];
      this.selected = -1;
      this.startedFromInitial = (this.getAttribute('initial-value') || '').trim() !== '';
      this.modified = false;
      this.initial = literalAttr(this, 'initial-value', null);
      this.readInitial(this.initial);
      this.keepOfferedLabels();
      this.stage = new ImageStage(this.getAttribute('src'), this.getAttribute('header') || 'Image to annotate',
        () => this.update());
      this.stage.element.tabIndex = 0;
      this.stage.element.setAttribute('aria-label', `${this.getAttribute('header') || 'Image'}: drawing area`);
      this.stage.element.addEventListener('keydown', (event) => this.onKey(event));
      this.output = hiddenInput(fieldName(this));
      // Posted only once a script sets `labels`: the server checks the drawn labels against these then.
      this.labelsOutput = hiddenInput(`__a2i_labels:${fieldName(this)}`);
      this.labelsOutput.disabled = true;
      this.summary = h('p', {class: 'a2i-hint', 'aria-live': 'polite'});
      this.list = new ShapeList(this);
      this.append(taskFrame(this, instructions, [this.chooser.fieldset,
        h('p', {class: 'a2i-hint', text: this.constructor.hint}), ...this.tools(), this.stage.element,
        this.summary, this.list.element, this.output, this.labelsOutput]));
      this.setUp();
      this.exposeUpperCanvas();
      this.update();
    }

    // AWS's elements draw on a canvas ("upper-canvas") in their open shadow root, and templates find it there
    // to lay their own pictures exactly over the image (the segmentation validation sample does). Here an
    // invisible canvas in the shadow root is kept over the image; a slot shows the element's content.
    exposeUpperCanvas() {
      if (NATIVE_SHADOW_ROOT.call(this)) return;
      const root = this.attachShadow({mode: 'open'});
      const canvas = h('canvas', {class: 'upper-canvas', 'aria-hidden': 'true'});
      Object.assign(canvas.style, {position: 'absolute', pointerEvents: 'none', opacity: '0'});
      root.append(h('slot'), canvas);
      const place = () => {
        const host = this.getBoundingClientRect();
        const image = this.stage.image.getBoundingClientRect();
        Object.assign(canvas.style, {left: `${image.left - host.left}px`, top: `${image.top - host.top}px`,
          width: `${image.width}px`, height: `${image.height}px`});
      };
      // Placed at once when the image loads too (a resize observer reports later): this listener comes before
      // any the template adds.
      this.stage.image.addEventListener('load', place);
      const observer = new ResizeObserver(place);
      observer.observe(this);
      observer.observe(this.stage.image);
      window.addEventListener('resize', place);
    }

    // Extra controls above the image, and what to do once rendered: for subclasses.
    tools() {
      return [];
    }

    setUp() {}

    shapeColor(shape) {
      return this.colorOf(shape.label);
    }

    // A label's colour: the next palette colour no other label has (a segmentation's map needs them distinct).
    colorOf(label) {
      if (!this.colors.has(label)) {
        const used = new Set(this.colors.values());
        let index = 0;
        while (used.has(paletteColor(index))) index += 1;
        this.colors.set(label, paletteColor(index));
      }
      return this.colors.get(label);
    }

    get labels() {
      if (this.labelNames) return [...this.labelNames];
      return labelList(this.early && this.early.labels !== undefined ? this.early.labels : listAttr(this, 'labels'));
    }

    set labels(values) {
      if (!this.labelNames) {
        this.early = {...this.early, labels: values};
        return;
      }
      this.labelNames = labelList(values);
      this.labelNames.forEach((label) => this.colorOf(label));
      this.labelsOutput.disabled = false;
      this.labelsOutput.value = JSON.stringify(this.labelNames);
      this.chooser.setLabels(this.labelNames);
      this.dropLabelsNotIn(this.labelNames);
      this.update();
    }

    // What is drawn with a label that is no longer offered goes: its answer would name a label the task lacks.
    dropLabelsNotIn(labels) {
      const kept = this.shapes.filter((shape) => labels.includes(shape.label));
      if (kept.length !== this.shapes.length) {
        this.shapes = kept;
        this.selected = -1;
        this.modified = true;
      }
    }

    get value() {
      return this.answer();
    }

    get _submittableValue() {
      return this.answer();
    }

    get initialValue() {
      return this.initial;
    }

    set initialValue(value) {
      if (!this.labelNames) {
        this.early = {...this.early, initialValue: value};
        return;
      }
      this.initial = value;
      this.startedFromInitial = true;
      this.modified = false;
      this.readInitial(value);
      this.keepOfferedLabels();
      this.update();
    }

    // As AWS documents for initial values: a shape whose label the task does not offer is not shown.
    keepOfferedLabels() {
      if (this.labelNames.length) this.shapes = this.shapes.filter((shape) => this.labelNames.includes(shape.label));
    }

    answer() {
      const answer = {...this.answerOf(this.shapes), inputImageProperties: this.stage.size()};
      if (this.startedFromInitial && this.constructor.reportsModified) answer.initialValueModified = this.modified;
      return answer;
    }

    changed() {
      this.modified = true;
      this.update();
    }

    update() {
      this.output.value = JSON.stringify(this.answer());
      const count = this.shapes.length;
      const {one, many} = this.constructor.noun;
      this.summary.textContent = `${count} ${count === 1 ? one : many} drawn.`;
      this.list.render(this.shapes, this.labelNames, this.selected);
      this.chooser.paint((label) => this.colorOf(label));
      if (this.stage.ready) this.drawLayer();
    }

    describe(shape, index) {
      return `${this.constructor.noun.one} ${index + 1} (${shape.label})`;
    }

    // The label for a new shape; none when the task offers no label yet (a custom-labels task, say).
    labelForNew() {
      const label = this.chooser.current();
      if (label === null) this.summary.textContent = 'Add a label before drawing.';
      return label;
    }

    select(index) {
      this.selected = index === this.selected ? -1 : index;
      this.update();
    }

    relabel(index, label) {
      this.shapes[index].label = label;
      this.changed();
    }

    remove(index) {
      this.shapes.splice(index, 1);
      this.selected = -1;
      this.changed();
    }

    // The selected shape: Delete or Backspace removes it, the arrow keys move it (a pixel of the screen; ten
    // with Shift).
    onKey(event) {
      const selected = this.shapes[this.selected];
      if (!selected) return;
      const arrows = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
      if (event.key === 'Delete' || event.key === 'Backspace') {
        event.preventDefault();
        this.remove(this.selected);
      } else if (arrows[event.key] && this.constructor.movable) {
        event.preventDefault();
        const step = (event.shiftKey ? 10 : 1) * this.stage.scale();
        const [dx, dy] = arrows[event.key];
        this.move(selected, dx * step, dy * step);
        this.changed();
      }
    }

    // Dragging `node` adjusts the selected shape: `start()` (on pointerdown) returns what to do with each
    // pointer position, in natural pixels. The click that ends a drag draws nothing.
    handle(node, start) {
      node.classList.add('a2i-handle');
      node.addEventListener('pointerdown', (event) => {
        if (event.button !== 0) return;
        event.preventDefault();
        event.stopPropagation();
        this.stage.element.focus({preventScroll: true});
        const adjust = start();
        const move = (moveEvent) => {
          adjust(this.stage.pointFromEvent(moveEvent));
          this.drawLayer();
        };
        const finish = () => {
          window.removeEventListener('pointermove', move);
          window.removeEventListener('pointerup', finish);
          this.afterDrag = true;
          setTimeout(() => { this.afterDrag = false; });
          this.changed();
        };
        window.addEventListener('pointermove', move);
        window.addEventListener('pointerup', finish);
      });
      return node;
    }

    // A label tag on the image that selects its shape when clicked.
    tag(shape, index, className) {
      const tag = h('button', {type: 'button', class: `${className} a2i-shape-tag`, text: shape.label,
        'aria-label': `Select ${this.describe(shape, index)}`, onpointerdown: (event) => event.stopPropagation(),
        onclick: (event) => {
          event.stopPropagation();
          this.select(index);
          this.stage.element.focus({preventScroll: true}); // the tag is redrawn: Delete still reaches the stage
        }});
      tag.style.setProperty('--a2i-shape-color', this.colorOf(shape.label));
      return tag;
    }
  }

  function readBox(item) {
    const box = {
      label: textOf(pick(item, 'label')),
      left: Number(pick(item, 'left')), top: Number(pick(item, 'top')),
      width: Number(pick(item, 'width')), height: Number(pick(item, 'height')),
    };
    return ['left', 'top', 'width', 'height'].every((key) => Number.isFinite(box[key])) ? box : null;
  }

  class CrowdBoundingBox extends ImageAnnotator {
    static movable = true;
    static chooserLegend = 'Label for new boxes';
    static hint = 'Choose a label, then drag on the image to draw a box. Select a box (its label) to change its ' +
      'label, drag its corners, move it with the arrow keys or delete it.';
    static noun = {one: 'box', many: 'boxes'};

    readInitial(value) {
      this.shapes = (Array.isArray(value) ? value : []).map(readBox).filter(Boolean);
    }

    setUp() {
      this.stage.layer.addEventListener('pointerdown', (event) => this.startDrawing(event));
    }

    answerOf(boxes) {
      return {boundingBoxes: boxes.map((box) => ({
        height: Math.round(box.height), label: box.label, left: Math.round(box.left),
        top: Math.round(box.top), width: Math.round(box.width),
      }))};
    }

    move(box, dx, dy) {
      const {width, height} = this.stage.size();
      box.left = clamp(box.left + dx, 0, Math.max(0, width - box.width));
      box.top = clamp(box.top + dy, 0, Math.max(0, height - box.height));
    }

    startDrawing(event) {
      if (!this.stage.ready || event.button !== 0) return;
      event.preventDefault();
      this.stage.element.focus({preventScroll: true});
      const label = this.labelForNew();
      if (label === null) return;
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
        const scale = this.stage.scale();
        if (box.width < 3 * scale || box.height < 3 * scale) return; // a click, not a drag
        this.shapes.push({label, ...box});
        this.changed();
      };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', finish);
    }

    drawLayer() {
      this.stage.layer.replaceChildren(...this.shapes.map((box, index) => {
        const node = h('div', {class: index === this.selected ? 'a2i-box a2i-selected' : 'a2i-box'},
          [this.tag(box, index, 'a2i-box-label')]);
        node.style.setProperty('--a2i-shape-color', this.colorOf(box.label));
        this.stage.place(node, box);
        if (index === this.selected) {
          node.append(...['nw', 'ne', 'sw', 'se'].map((corner) => this.cornerHandle(box, corner)));
        }
        return node;
      }));
    }

    // A corner of the selected box: dragged, it resizes the box; the opposite corner stays.
    cornerHandle(box, corner) {
      const node = h('span', {class: `a2i-corner a2i-corner-${corner}`, 'aria-hidden': 'true'});
      return this.handle(node, () => {
        const fixed = {x: corner.includes('w') ? box.left + box.width : box.left,
          y: corner.includes('n') ? box.top + box.height : box.top};
        return (point) => Object.assign(box, {left: Math.min(point.x, fixed.x), top: Math.min(point.y, fixed.y),
          width: Math.abs(point.x - fixed.x), height: Math.abs(point.y - fixed.y)});
      });
    }
  }

  class CrowdKeypoint extends ImageAnnotator {
    static movable = true;
    static reportsModified = false;
    static chooserLegend = 'Label for new points';
    static hint = 'Choose a label, then click the image to place a point. Select a point (its label) to change ' +
      'its label, drag it or move it with the arrow keys, or delete it.';
    static noun = {one: 'point', many: 'points'};

    readInitial(value) {
      this.shapes = (Array.isArray(value) ? value : [])
        .map((item) => ({label: textOf(pick(item, 'label')), x: Number(pick(item, 'x')), y: Number(pick(item, 'y'))}))
        .filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
    }

    setUp() {
      this.stage.layer.addEventListener('click', (event) => this.placePoint(event));
    }

    answerOf(points) {
      return {keypoints: points.map((point) => ({label: point.label, x: Math.round(point.x), y: Math.round(point.y)}))};
    }

    move(point, dx, dy) {
      const {width, height} = this.stage.size();
      point.x = clamp(point.x + dx, 0, width);
      point.y = clamp(point.y + dy, 0, height);
    }

    placePoint(event) {
      if (!this.stage.ready || this.afterDrag || event.target.closest('button, .a2i-handle')) return;
      this.stage.element.focus({preventScroll: true});
      const label = this.labelForNew();
      if (label === null) return;
      const {x, y} = this.stage.pointFromEvent(event);
      this.shapes.push({label, x, y});
      this.changed();
    }

    drawLayer() {
      this.stage.layer.replaceChildren(...this.shapes.map((point, index) => {
        const node = h('div', {class: index === this.selected ? 'a2i-point a2i-selected' : 'a2i-point'},
          [this.tag(point, index, 'a2i-point-label')]);
        node.style.setProperty('--a2i-shape-color', this.colorOf(point.label));
        this.stage.place(node, {left: point.x, top: point.y});
        if (index === this.selected) this.handle(node, () => (moved) => Object.assign(point, moved));
        return node;
      }));
    }
  }

  ELEMENTS.push(['crowd-bounding-box', CrowdBoundingBox]);
  ELEMENTS.push(['crowd-keypoint', CrowdKeypoint]);
