  // ---------------------------------------------------------------------------------------------------
  // Segmentation: the worker paints over the image with a brush (or erases); the answer carries a PNG label map
  // of the image's size in which every painted pixel has exactly its label's (or instance's) colour and the
  // rest is transparent. The map is kept as one class index per pixel, so colours never blend.

  function hexToRgb(hex) {
    const value = parseInt(hex.slice(1), 16);
    return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
  }

  function rgbToHex(r, g, b) {
    return `#${[r, g, b].map((part) => part.toString(16).padStart(2, '0')).join('')}`;
  }

  /*
   * Subclasses keep `this.classes`: index (from 1; 0 is unpainted) -> {label, color}, and say which class the
   * brush paints (paintClass()) and what the answer lists besides the PNG (mappingOf()).
   */
  class SegmentationAnnotator extends ImageAnnotator {
    static noun = {one: 'region', many: 'regions'};

    tools() {
      this.toolName = uid('segmentation-tool');
      const tool = (value, text, checked) => {
        const input = h('input', {type: 'radio', name: this.toolName, value, checked});
        input.setAttribute('form', 'a2i-not-submitted');
        return h('label', {class: 'a2i-choice'}, [input, h('span', {text})]);
      };
      // Across, in pixels of the screen.
      this.brushSize = h('input', {type: 'range', class: 'a2i-brush-size', min: '1', max: '100', value: '12',
        'aria-label': 'Brush size', form: 'a2i-not-submitted'});
      return [h('div', {class: 'a2i-tool-row'}, [
        h('fieldset', {class: 'a2i-choices a2i-label-chooser'}, [h('legend', {text: 'Tool'}),
          tool('brush', 'Brush', true), tool('eraser', 'Eraser', false)]),
        h('label', {class: 'a2i-choice'}, [h('span', {text: 'Brush size'}), this.brushSize]),
        ...this.extraTools(),
      ])];
    }

    extraTools() {
      return [];
    }

    setUp() {
      // No name: never posted; only its validity matters (see encodeMap).
      this.pendingGuard = h('input', {type: 'text', class: 'a2i-pending-guard', tabindex: '-1', 'aria-hidden': 'true'});
      this.stage.element.after(this.pendingGuard);
      this.encoded = '';
      this.canvas = h('canvas', {class: 'a2i-segmentation-overlay'});
      this.stage.layer.addEventListener('pointerdown', (event) => this.startPainting(event));
    }

    // Called once the image's size is known (update() runs then): the class map and the overlay.
    ensureMask() {
      const {width, height} = this.stage.size();
      if (!width || !height || (this.mask && this.mask.width === width && this.mask.height === height)) return;
      this.mask = {width, height, data: new Uint16Array(width * height)};
      this.canvas.width = width;
      this.canvas.height = height;
      this.pixels = this.canvas.getContext('2d').createImageData(width, height);
      this.words = new Uint32Array(this.pixels.data.buffer);
      this.counts = new Uint32Array(65536);
      this.counts[0] = width * height;
      this.stage.layer.replaceChildren(this.canvas);
      if (this.pendingInitial) this.applyInitial(this.pendingInitial);
    }

    drawLayer() {
      this.ensureMask();
    }

    tool() {
      const checked = this.querySelector(`input[name="${this.toolName}"]:checked`);
      return checked ? checked.value : 'brush';
    }

    startPainting(event) {
      if (!this.stage.ready || event.button !== 0) return;
      event.preventDefault();
      this.stage.element.focus({preventScroll: true});
      this.ensureMask();
      const index = this.tool() === 'eraser' ? 0 : this.paintClass();
      if (index === null) return;
      const radius = Number(this.brushSize.value) * this.stage.scale() / 2;
      let last = this.stage.pointFromEvent(event);
      this.stamp(last, radius, index);
      const move = (moveEvent) => {
        const point = this.stage.pointFromEvent(moveEvent);
        const steps = Math.max(1, Math.ceil(Math.hypot(point.x - last.x, point.y - last.y) / Math.max(1, radius / 2)));
        for (let step = 1; step <= steps; step += 1) {
          this.stamp({x: last.x + ((point.x - last.x) * step) / steps, y: last.y + ((point.y - last.y) * step) / steps},
            radius, index);
        }
        last = point;
      };
      const finish = () => {
        window.removeEventListener('pointermove', move);
        window.removeEventListener('pointerup', finish);
        this.changed();
      };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', finish);
    }

    // A filled disc of class `index` in the map and on the overlay (only the pixels it covers are redrawn).
    stamp(center, radius, index) {
      const {width, height, data} = this.mask;
      const r = Math.max(0.5, radius);
      const left = Math.max(0, Math.floor(center.x - r));
      const right = Math.min(width - 1, Math.ceil(center.x + r));
      const top = Math.max(0, Math.floor(center.y - r));
      const bottom = Math.min(height - 1, Math.ceil(center.y + r));
      if (left > right || top > bottom) return;
      const word = this.colorWord(index);
      for (let y = top; y <= bottom; y += 1) {
        for (let x = left; x <= right; x += 1) {
          const at = y * width + x;
          if ((x + 0.5 - center.x) ** 2 + (y + 0.5 - center.y) ** 2 <= r * r && data[at] !== index) {
            this.counts[data[at]] -= 1;
            this.counts[index] += 1;
            data[at] = index;
            this.words[at] = word;
          }
        }
      }
      this.canvas.getContext('2d').putImageData(this.pixels, 0, 0, left, top, right - left + 1, bottom - top + 1);
    }

    // A class's colour as one RGBA pixel of the overlay (little-endian: the bytes are R, G, B, A).
    colorWord(index) {
      const entry = this.classes.get(index);
      if (!entry) return 0;
      const [r, g, b] = hexToRgb(entry.color);
      return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
    }

    // After a bulk change of the map (or of colours): the overlay and the per-class pixel counts again.
    repaintAll() {
      const {data} = this.mask;
      const words = new Map([...this.classes.keys()].map((index) => [index, this.colorWord(index)]));
      this.counts.fill(0);
      for (let at = 0; at < data.length; at += 1) {
        this.counts[data[at]] += 1;
        this.words[at] = words.get(data[at]) || 0;
      }
      this.canvas.getContext('2d').putImageData(this.pixels, 0, 0);
    }

    // Pixels of classes that no longer exist become unpainted.
    clearClasses(indices) {
      if (!this.mask || !indices.length) return;
      const gone = new Set(indices);
      const {data} = this.mask;
      for (let at = 0; at < data.length; at += 1) if (gone.has(data[at])) data[at] = 0;
      this.repaintAll();
    }

    answer() {
      return this.stage.ready ? super.answer() : null;
    }

    answerOf() {
      return {...this.mappingOf(), labeledImage: {pngImageData: this.encoded}};
    }

    // Nothing is posted before the image has loaded: there is no label map of its size yet.
    update() {
      if (!this.stage.ready) {
        this.output.value = '';
        return;
      }
      this.ensureMask();
      this.encodeMap();
      super.update();
    }

    // The PNG is encoded in the background (CompressionStream); until the latest is ready the form does not
    // submit (a control with a custom validity message says why) and the output keeps the previous one.
    encodeMap() {
      this.generation = (this.generation || 0) + 1;
      const generation = this.generation;
      this.pendingGuard.setCustomValidity('The label map is still being saved: submit again in a moment.');
      labelMapPng(this.mask, this.classes).then((encoded) => {
        if (generation !== this.generation) return;
        this.encoded = encoded;
        this.output.value = JSON.stringify(this.answer());
        this.pendingGuard.setCustomValidity('');
        this.dispatchEvent(new Event('a2i-label-map-saved'));
      }, (error) => report(this, `The label map could not be saved (${error.message}).`));
    }
  }

  // --- the label map as a PNG: palette colours (index 0 transparent), deflated by the browser --------------

  const CRC_TABLE = Array.from({length: 256}, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });

  function crc32(bytes) {
    let c = 0xffffffff;
    for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }

  function pngChunk(type, data) {
    const chunk = new Uint8Array(12 + data.length);
    const view = new DataView(chunk.buffer);
    view.setUint32(0, data.length);
    chunk.set([...type].map((char) => char.charCodeAt(0)), 4);
    chunk.set(data, 8);
    view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
    return chunk;
  }

  async function deflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function toBase64(bytes) {
    let text = '';
    for (let at = 0; at < bytes.length; at += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(at, at + 0x8000));
    }
    return btoa(text);
  }

  /*
   * An 8-bit palette PNG of the map: palette entry 0 transparent, then each class's colour, opaque. A palette
   * keeps the map a quarter of an RGBA PNG's size (a form field has a size limit): every pixel still decodes to
   * exactly its class's colour. More than 255 classes would not fit a palette: those maps are RGBA.
   */
  async function labelMapPng({width, height, data}, classes) {
    const indices = [...classes.keys()];
    const rgba = indices.length > 255;
    const slot = new Uint8Array(65536); // class index -> palette entry
    indices.forEach((index, at) => { if (at < 255) slot[index] = at + 1; });
    const stride = rgba ? width * 4 : width;
    const raw = new Uint8Array(height * (stride + 1)); // each row: filter type 0, then its pixels
    for (let y = 0; y < height; y += 1) {
      const row = y * (stride + 1) + 1;
      for (let x = 0; x < width; x += 1) {
        const index = data[y * width + x];
        if (!rgba) {
          raw[row + x] = slot[index];
        } else if (classes.has(index)) {
          raw.set([...hexToRgb(classes.get(index).color), 255], row + x * 4);
        }
      }
    }
    const header = new Uint8Array(13);
    const view = new DataView(header.buffer);
    view.setUint32(0, width);
    view.setUint32(4, height);
    header.set([8, rgba ? 6 : 3, 0, 0, 0], 8);
    const chunks = [pngChunk('IHDR', header)];
    if (!rgba) {
      const palette = [0, 0, 0, ...indices.flatMap((index) => hexToRgb(classes.get(index).color))];
      chunks.push(pngChunk('PLTE', new Uint8Array(palette)));
      chunks.push(pngChunk('tRNS', new Uint8Array([0, ...indices.map(() => 255)])));
    }
    chunks.push(pngChunk('IDAT', await deflate(raw)), pngChunk('IEND', new Uint8Array(0)));
    const png = new Uint8Array(8 + chunks.reduce((total, chunk) => total + chunk.length, 0));
    png.set([137, 80, 78, 71, 13, 10, 26, 10]);
    let at = 8;
    for (const chunk of chunks) {
      png.set(chunk, at);
      at += chunk.length;
    }
    return toBase64(png);
  }

  class CrowdSemanticSegmentation extends SegmentationAnnotator {
    static chooserLegend = 'Label to paint';
    static hint = 'Choose a label, then paint over its parts of the image with the brush; the eraser unpaints.';

    readInitial(value) {
      // The prior job's colours first, then palette colours none of them has: one colour per label.
      const mappings = value && typeof value === 'object' ? pick(value, 'labelMappings') : null;
      this.colors = new Map();
      for (const [label, mapping] of Object.entries(mappings && typeof mappings === 'object' ? mappings : {})) {
        const color = textOf(pick(mapping, 'color')).toLowerCase();
        const taken = [...this.colors.values()].includes(color);
        if (this.labelNames.includes(label) && /^#[\da-f]{6}$/.test(color) && !taken) this.colors.set(label, color);
      }
      this.classes = this.classes || new Map();
      this.labelNames.forEach((label) => { this.classes.get(this.classOf(label)).color = this.colorOf(label); });
      if (this.mask) this.repaintAll();
      const src = value && typeof value === 'object' ? safeUrl(textOf(pick(value, 'src'))) : '';
      this.pendingInitial = src || null;
      if (this.mask && src) this.applyInitial(src);
    }

    update() {
      super.update();
      if (!this.mask) return;
      const labels = [...this.classes].filter(([index]) => this.counts[index] > 0).map(([, entry]) => entry.label);
      this.summary.textContent = labels.length ? `Painted: ${labels.join(', ')}.` : 'Nothing painted yet.';
    }

    classOf(label) {
      for (const [index, entry] of this.classes) if (entry.label === label) return index;
      const index = this.classes.size + 1;
      this.classes.set(index, {label, color: this.colorOf(label)});
      return index;
    }

    // A prior job's label map (initial-value's src): its pixels of a mapped colour become that label's.
    applyInitial(src) {
      this.pendingInitial = null;
      const image = new Image();
      image.crossOrigin = 'anonymous';
      image.addEventListener('load', () => {
        const {width, height, data} = this.mask;
        const canvas = h('canvas');
        canvas.width = width;
        canvas.height = height;
        const context = canvas.getContext('2d');
        context.drawImage(image, 0, 0, width, height);
        let pixels;
        try {
          pixels = context.getImageData(0, 0, width, height).data;
        } catch (error) {
          report(this, 'The initial label map could not be read (it is not served by this portal).');
          return;
        }
        const byColor = new Map([...this.classes].map(([index, entry]) => [entry.color, index]));
        for (let at = 0; at < data.length; at += 1) {
          if (pixels[at * 4 + 3] === 0) continue;
          const index = byColor.get(rgbToHex(pixels[at * 4], pixels[at * 4 + 1], pixels[at * 4 + 2]));
          if (index !== undefined) data[at] = index;
        }
        this.repaintAll();
        this.update();
      });
      image.addEventListener('error', () => report(this, 'The initial label map could not be loaded.'));
      image.src = src;
    }

    paintClass() {
      const label = this.labelForNew();
      return label === null ? null : this.classOf(label);
    }

    mappingOf() {
      const labelMappings = {};
      for (const label of this.labelNames) labelMappings[label] = {color: this.colorOf(label)};
      return {labelMappings};
    }

    set labels(values) {
      const before = this.labelNames;
      super.labels = values;
      if (!before) return; // not rendered yet: applied when it is
      const removed = before.filter((label) => !this.labelNames.includes(label));
      this.clearClasses(removed.map((label) => this.classOf(label)));
      this.labelNames.forEach((label) => this.classOf(label));
      this.update();
    }

    get labels() {
      return super.labels;
    }
  }

  /*
   * Instances: "Add instance" starts a new instance of the chosen label, with a colour of its own; the brush
   * paints the current instance (the first stroke of a label with none starts one). The list selects an
   * instance, changes its label or deletes it (and its pixels).
   */
  class CrowdInstanceSegmentation extends SegmentationAnnotator {
    static reportsModified = false;
    static labelSwatches = false;
    static chooserLegend = 'Label of new instances';
    static hint = 'Choose a label and add an instance, then paint over that object with the brush; add another ' +
      'instance for each further object.';
    static noun = {one: 'instance', many: 'instances'};

    readInitial() {
      this.classes = this.classes || new Map();
      this.nextColor = this.nextColor || 0;
    }

    extraTools() {
      return [h('button', {type: 'button', class: 'a2i-button', text: 'Add instance',
        onclick: () => this.addInstance()})];
    }

    addInstance() {
      const label = this.labelForNew();
      if (label === null) return null;
      const used = new Set([...this.classes.values()].map((entry) => entry.color));
      let color = paletteColor(this.nextColor);
      while (used.has(color)) {
        this.nextColor += 1;
        color = paletteColor(this.nextColor);
      }
      this.nextColor += 1;
      const index = Math.max(0, ...this.classes.keys()) + 1;
      this.classes.set(index, {label, color});
      this.shapes.push({label, index, color});
      this.selected = this.shapes.length - 1;
      this.changed();
      return index;
    }

    paintClass() {
      const current = this.shapes[this.selected];
      if (current && current.label === this.chooser.current()) return current.index;
      const label = this.chooser.current();
      const existing = this.shapes.findIndex((shape) => shape.label === label);
      if (existing >= 0 && !current) {
        this.selected = existing;
        return this.shapes[existing].index;
      }
      return this.addInstance();
    }

    shapeColor(instance) {
      return instance.color;
    }

    describe(instance, index) {
      const number = this.shapes.slice(0, index + 1).filter((shape) => shape.label === instance.label).length;
      return `${instance.label} #${number}`;
    }

    select(index) {
      this.selected = index;
      if (this.shapes[index]) {
        const radio = this.chooser.inputs.find((input) => input.value === this.shapes[index].label);
        if (radio) radio.checked = true;
      }
      this.update();
    }

    relabel(index, label) {
      this.shapes[index].label = label;
      this.classes.get(this.shapes[index].index).label = label;
      this.changed();
    }

    remove(index) {
      const [instance] = this.shapes.splice(index, 1);
      this.classes.delete(instance.index);
      this.clearClasses([instance.index]);
      this.selected = -1;
      this.changed();
    }

    dropLabelsNotIn(labels) {
      const gone = this.shapes.filter((shape) => !labels.includes(shape.label));
      for (const instance of gone) this.classes.delete(instance.index);
      this.clearClasses(gone.map((instance) => instance.index));
      super.dropLabelsNotIn(labels);
    }

    mappingOf() {
      return {instances: this.shapes.map((instance) => ({color: instance.color, label: instance.label}))};
    }
  }

  ELEMENTS.push(['crowd-semantic-segmentation', CrowdSemanticSegmentation]);
  ELEMENTS.push(['crowd-instance-segmentation', CrowdInstanceSegmentation]);
