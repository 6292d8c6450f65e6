// Shows a chosen image before it is uploaded: the <img data-preview-for="<input id>"> beside
// a file input. Only an enhancement: the forms upload and show the stored image without it.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
  const preview = document.querySelector(`img[data-preview-for="${CSS.escape(input.id)}"]`);
  const file = input.files && input.files[0];
  if (!preview || !file || !file.type.startsWith("image/")) return;
  const reader = new FileReader();
  reader.addEventListener("load", () => {
    preview.src = String(reader.result);  // a data: URL, which the site's CSP allows
    preview.alt = "Preview of the chosen image";
    preview.hidden = false;
  });
  reader.readAsDataURL(file);
});
