// Sortable columns for every `table.sortable`: each header becomes a button; aria-sort says the order.
(() => {
  "use strict";
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  for (const table of document.querySelectorAll("table.sortable")) {
    const headers = [...table.tHead.rows[0].cells];
    headers.forEach((th, column) => {
      const button = document.createElement("button");
      button.type = "button";
      button.append(...th.childNodes);
      th.append(button);
      button.addEventListener("click", (e) => {
        if (e.target.closest("a")) return; // a link inside the header still navigates
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = [...body.rows].sort((a, b) => {
          const order = collator.compare(a.cells[column].textContent.trim(), b.cells[column].textContent.trim());
          return ascending ? order : -order;
        });
        body.append(...rows);
      });
    });
  }
})();
