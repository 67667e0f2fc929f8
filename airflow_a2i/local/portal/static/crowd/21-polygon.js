  // ---------------------------------------------------------------------------------------------------
  // Polygons, lines and polylines: labelled lists of vertices, drawn click by click on an SVG layer whose
  // coordinates are the image's natural pixels.

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function svg(tag, attributes = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    return node;
  }

  function readVertices(item) {
    const vertices = pick(item, 'vertices');
    return (Array.isArray(vertices) ? vertices : [])
      .map((vertex) => ({x: Number(pick(vertex, 'x')), y: Number(pick(vertex, 'y'))}))
      .filter((vertex) => Number.isFinite(vertex.x) && Number.isFinite(vertex.y));
  }

  /*
   * Click to add a vertex. A polygon is finished by clicking its first vertex; a polygon or polyline by
   * double-clicking, pressing Enter or the Finish button; a line by its second click. Escape drops the shape
   * being drawn, Backspace its last vertex. Clicking a finished shape's border (or its label) selects it.
   */
  class VertexAnnotator extends ImageAnnotator {
    static movable = true;

    move(shape, dx, dy) {
      const {width, height} = this.stage.size();
      const xs = shape.vertices.map((vertex) => vertex.x);
      const ys = shape.vertices.map((vertex) => vertex.y);
      const moveX = clamp(dx, -Math.min(...xs), width - Math.max(...xs));
      const moveY = clamp(dy, -Math.min(...ys), height - Math.max(...ys));
      shape.vertices = shape.vertices.map((vertex) => ({x: vertex.x + moveX, y: vertex.y + moveY}));
    }

    readInitial(value) {
      // AWS documents initial-value as a list (crowd-polygon) or as {lines: [...]} / {polylines: [...]}.
      const {key, fewest} = this.constructor.shape;
      const items = Array.isArray(value) ? value : (value && Array.isArray(pick(value, key)) ? pick(value, key) : []);
      this.shapes = items.map((item) => ({label: textOf(pick(item, 'label')), vertices: readVertices(item)}))
        .filter((shape) => shape.vertices.length >= fewest);
      this.draft = null;
    }

    tools() {
      this.finishButton = h('button', {type: 'button', class: 'a2i-button', text: `Finish ${this.constructor.noun.one}`,
        disabled: true, onclick: () => this.finishDraft()});
      this.cancelButton = h('button', {type: 'button', class: 'a2i-button', text: 'Cancel drawing', disabled: true,
        onclick: () => this.cancelDraft()});
      return this.constructor.shape.most === 2 ? [] : [h('div', {class: 'a2i-tool-row'},
        [this.finishButton, this.cancelButton])];
    }

    setUp() {
      this.stage.layer.addEventListener('click', (event) => this.onClick(event));
      this.stage.layer.addEventListener('dblclick', (event) => {
        event.preventDefault();
        this.finishDraft();
      });
      this.stage.layer.addEventListener('pointermove', (event) => {
        if (!this.draft) return;
        this.draft.pointer = this.stage.pointFromEvent(event);
        this.drawLayer();
      });
    }

    answerOf(shapes) {
      return {[this.constructor.shape.key]: shapes.map((shape) => ({
        label: shape.label,
        vertices: shape.vertices.map((vertex) => ({x: Math.round(vertex.x), y: Math.round(vertex.y)})),
      }))};
    }

    onClick(event) {
      if (!this.stage.ready || this.afterDrag || event.button !== 0 || event.target.closest('button')) return;
      this.stage.element.focus({preventScroll: true});
      const hit = event.target.closest('[data-shape]');
      if (!this.draft && hit) {
        this.select(Number(hit.dataset.shape));
        return;
      }
      if (event.detail > 1) return; // the second click of a double-click finishes instead
      const point = this.stage.pointFromEvent(event);
      if (!this.draft) {
        const label = this.labelForNew();
        if (label === null) return;
        this.draft = {label, vertices: [], pointer: point};
        this.selected = -1;
      }
      const {closed, most} = this.constructor.shape;
      const first = this.draft.vertices[0];
      const nearFirst = first && Math.hypot(point.x - first.x, point.y - first.y) <= 8 * this.stage.scale();
      if (closed && nearFirst && this.draft.vertices.length >= this.constructor.shape.fewest) {
        this.finishDraft();
        return;
      }
      this.draft.vertices.push(point);
      if (this.draft.vertices.length >= most) this.finishDraft();
      else this.drawDraftState();
    }

    finishDraft() {
      if (!this.draft) return;
      const {fewest} = this.constructor.shape;
      if (this.draft.vertices.length < fewest) {
        this.summary.textContent = `A ${this.constructor.noun.one} needs at least ${fewest} points.`;
        return;
      }
      this.shapes.push({label: this.draft.label, vertices: this.draft.vertices});
      this.draft = null;
      this.drawDraftState();
      this.changed();
    }

    cancelDraft() {
      this.draft = null;
      this.drawDraftState();
      this.update();
    }

    drawDraftState() {
      this.finishButton.disabled = !this.draft || this.draft.vertices.length < this.constructor.shape.fewest;
      this.cancelButton.disabled = !this.draft;
      if (this.stage.ready) this.drawLayer();
    }

    onKey(event) {
      if (this.draft && event.key === 'Enter') {
        event.preventDefault();
        this.finishDraft();
      } else if (this.draft && event.key === 'Escape') {
        event.preventDefault();
        this.cancelDraft();
      } else if (this.draft && event.key === 'Backspace') {
        event.preventDefault();
        this.draft.vertices.pop();
        if (!this.draft.vertices.length) this.draft = null;
        this.drawDraftState();
      } else {
        super.onKey(event);
      }
    }

    set labels(values) {
      super.labels = values;
      if (this.draft && !this.labelNames.includes(this.draft.label)) this.cancelDraft();
    }

    get labels() {
      return super.labels;
    }

    drawLayer() {
      const {width, height} = this.stage.size();
      const scale = this.stage.scale();
      const layer = svg('svg', {class: 'a2i-vertex-layer', viewBox: `0 0 ${width} ${height}`,
        preserveAspectRatio: 'none'});
      const tags = [];
      this.shapes.forEach((shape, index) => {
        layer.append(this.shapeNode(shape, index, scale));
        const top = shape.vertices.reduce((best, vertex) => (vertex.y < best.y ? vertex : best), shape.vertices[0]);
        const tag = this.tag(shape, index, 'a2i-box-label a2i-vertex-tag');
        this.stage.place(tag, {left: top.x, top: top.y});
        tags.push(tag);
      });
      if (this.draft) layer.append(this.draftNode(scale));
      this.stage.layer.replaceChildren(layer, ...tags);
    }

    shapeNode(shape, index, scale) {
      const points = shape.vertices.map((vertex) => `${vertex.x},${vertex.y}`).join(' ');
      const kind = this.constructor.shape.closed ? 'polygon' : 'polyline';
      const group = svg('g', {'data-shape': index,
        class: index === this.selected ? 'a2i-shape a2i-selected' : 'a2i-shape'});
      group.style.setProperty('--a2i-shape-color', this.colorOf(shape.label));
      group.append(svg(kind, {points, class: 'a2i-shape-hit'}), svg(kind, {points, class: 'a2i-shape-line'}));
      shape.vertices.forEach((vertex, at) => {
        const circle = svg('circle', {cx: vertex.x, cy: vertex.y, r: (index === this.selected ? 6 : 3.5) * scale,
          class: 'a2i-shape-vertex'});
        // The selected shape's vertices can be dragged.
        if (index === this.selected) this.handle(circle, () => (moved) => { shape.vertices[at] = moved; });
        group.append(circle);
      });
      return group;
    }

    draftNode(scale) {
      const {vertices, pointer, label} = this.draft;
      const points = [...vertices, pointer].map((vertex) => `${vertex.x},${vertex.y}`).join(' ');
      const group = svg('g', {class: 'a2i-shape a2i-draft'});
      group.style.setProperty('--a2i-shape-color', this.colorOf(label));
      group.append(svg('polyline', {points, class: 'a2i-shape-line'}));
      vertices.forEach((vertex, index) => {
        group.append(svg('circle', {cx: vertex.x, cy: vertex.y, r: (index === 0 ? 6 : 3.5) * scale,
          class: index === 0 ? 'a2i-shape-vertex a2i-first-vertex' : 'a2i-shape-vertex'}));
      });
      return group;
    }
  }

  class CrowdPolygon extends VertexAnnotator {
    static chooserLegend = 'Label for new polygons';
    static hint = 'Choose a label, then click the image to place each corner; click the first corner (or press ' +
      'Enter, or double-click) to close the polygon. Escape cancels, Backspace removes the last corner. Click a ' +
      'polygon\'s border (or its label) to select it: drag its corners, move it with the arrow keys, or press ' +
      'Delete.';
    static noun = {one: 'polygon', many: 'polygons'};
    static shape = {key: 'polygons', fewest: 3, most: Infinity, closed: true};
  }

  class CrowdPolyline extends VertexAnnotator {
    static chooserLegend = 'Label for new polylines';
    static hint = 'Choose a label, then click the image to place each point; press Enter (or double-click) to ' +
      'finish the polyline. Escape cancels, Backspace removes the last point.';
    static noun = {one: 'polyline', many: 'polylines'};
    static shape = {key: 'polylines', fewest: 2, most: Infinity, closed: false};
  }

  class CrowdLine extends VertexAnnotator {
    static chooserLegend = 'Label for new lines';
    static hint = 'Choose a label, then click the line\'s start and its end on the image. Escape cancels a line.';
    static noun = {one: 'line', many: 'lines'};
    static shape = {key: 'lines', fewest: 2, most: 2, closed: false};
  }

  ELEMENTS.push(['crowd-polygon', CrowdPolygon]);
  ELEMENTS.push(['crowd-line', CrowdLine]);
  ELEMENTS.push(['crowd-polyline', CrowdPolyline]);
