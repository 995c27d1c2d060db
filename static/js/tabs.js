// WAI-ARIA tabs: click or arrow keys select a tab; inactive panels get `hidden`.
export function setupTabs(tablist) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];

  function select(tab) {
    for (const other of tabs) {
      const active = other === tab;
      other.setAttribute('aria-selected', String(active));
      other.tabIndex = active ? 0 : -1;
      document.getElementById(other.getAttribute('aria-controls')).hidden = !active;
    }
  }

  const keyTargets = {
    ArrowRight: (i) => tabs[(i + 1) % tabs.length],
    ArrowLeft: (i) => tabs[(i - 1 + tabs.length) % tabs.length],
    Home: () => tabs[0],
    End: () => tabs[tabs.length - 1],
  };

  tablist.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(tab);
  });
  tablist.addEventListener('keydown', (event) => {
    const target = keyTargets[event.key]?.(tabs.indexOf(document.activeElement));
    if (!target) return;
    event.preventDefault();
    target.focus();
    select(target);
  });
}
