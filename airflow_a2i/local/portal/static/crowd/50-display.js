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

  ELEMENTS.push(['crowd-button', CrowdButton]);
  ELEMENTS.push(['crowd-alert', CrowdAlert]);
  ELEMENTS.push(['crowd-badge', CrowdBadge]);
  ELEMENTS.push(['crowd-card', CrowdCard]);
  ELEMENTS.push(['crowd-fab', CrowdFab]);
  ELEMENTS.push(['crowd-icon-button', CrowdIconButton]);
  ELEMENTS.push(['crowd-instructions', CrowdInstructions]);
  ELEMENTS.push(['crowd-modal', CrowdModal]);
  ELEMENTS.push(['crowd-tab', CrowdTab]);
  ELEMENTS.push(['crowd-tabs', CrowdTabs]);
  ELEMENTS.push(['crowd-toast', CrowdToast]);
