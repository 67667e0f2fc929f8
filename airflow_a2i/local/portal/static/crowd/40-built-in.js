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

  ELEMENTS.push(['crowd-rekognition-detect-moderation-labels', CrowdRekognitionDetectModerationLabels]);
