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

  ELEMENTS.push(['crowd-bounding-box', CrowdBoundingBox]);
  ELEMENTS.push(['crowd-keypoint', CrowdKeypoint]);
